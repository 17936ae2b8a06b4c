"""``pod_kill``: SIGKILL a supervised program, as a node failure or an OOM kill would.

supervisord restarts it (``autorestart``), as a kubelet restarts a container: the system is expected to heal by
itself, so MTTR counts from the kill. Reverting only makes sure the program is running again — for the case where
it could not come back by itself (e.g. supervisord gave up after repeated crashes).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from mlchaos.experiments.targets import SupervisorAuth, TargetEndpoints
from mlchaos.injectors.backends.supervisor import SupervisorClient
from mlchaos.injectors.base import FaultPlan, FaultSpec, TargetMisconfigured, Undo, require


class PodKill(FaultSpec):
    type: Literal["pod_kill"]
    program: str = Field(description="Supervised program to kill, e.g. primary-model.")
    signal: Literal["KILL", "TERM", "INT"] = "KILL"
    heals_itself: ClassVar[bool] = True


class PodKillUndo(Undo):
    supervisor_url: str
    program: str
    supervisor_auth: SupervisorAuth | None = None
    """Where the credentials are read (journalled: never the password itself)."""

    def client(self) -> SupervisorClient:
        return SupervisorClient(self.supervisor_url, auth=self.supervisor_auth)


class PodKillInjector:
    spec = PodKill
    undo = PodKillUndo

    def plan(self, spec: PodKill, target: TargetEndpoints) -> FaultPlan[PodKillUndo]:
        url = require(target.supervisor_url, "supervisord URL", spec.id)
        if target.programs and spec.program not in target.programs:
            known = ", ".join(target.programs)
            raise TargetMisconfigured(
                f"fault '{spec.id}': no program '{spec.program}' (the target has: {known})"
            )
        return FaultPlan(
            touches=(f"supervisord program '{spec.program}' at {url}",),
            description=f"SIG{spec.signal} program '{spec.program}'; supervisord restarts it",
            undo=PodKillUndo(
                supervisor_url=url, program=spec.program, supervisor_auth=target.supervisor_auth
            ),
        )

    def check(self, undo: PodKillUndo) -> None:
        state = undo.client().program(undo.program)
        if state.state != "RUNNING":
            raise TargetMisconfigured(
                f"program '{undo.program}' is {state.state}, not RUNNING, before the fault"
            )

    def inject(self, spec: PodKill, undo: PodKillUndo) -> None:
        undo.client().kill(undo.program, spec.signal)

    def revert(self, undo: PodKillUndo) -> None:
        undo.client().ensure_running(undo.program)


INJECTOR = PodKillInjector()
