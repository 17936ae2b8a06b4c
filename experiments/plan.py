"""A scenario resolved against a target: the timeline, and exactly what each fault will touch.

Planning reads nothing from the target and changes nothing; ``mlchaos plan`` prints it, ``mlchaos run`` executes it.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, replace
from typing import Any

from mlchaos.experiments.scenario import Scenario
from mlchaos.experiments.targets import EmbeddedTarget, TargetEndpoints, declared_endpoints
from mlchaos.experiments.verifiers.base import Phase
from mlchaos.injectors import INJECTORS, FaultPlan, FaultSpec
from mlchaos.staging.endpoints import PROGRAMS, PROXIES


class Action(enum.StrEnum):
    PHASE = "phase"
    INJECT = "inject"
    REVERT = "revert"


@dataclass(frozen=True)
class Step:
    """One thing the engine does, ``offset`` seconds after the baseline starts (the warm-up's is negative)."""

    offset: float
    action: Action
    phase: Phase | None = None
    fault: FaultSpec | None = None


@dataclass(frozen=True)
class PlannedFault:
    spec: FaultSpec
    plan: FaultPlan[Any]


@dataclass(frozen=True)
class Plan:
    scenario: Scenario
    target: TargetEndpoints
    faults: tuple[PlannedFault, ...]
    steps: tuple[Step, ...]
    run_id: str = ""
    """Eight hex digits, new for every plan: what a run's faults create is named after it (a toxic
    ``mlchaos_<fault>_<run id>``), so no run's revert can undo another run's fault."""

    @property
    def duration(self) -> float:
        """Seconds under load, warm-up included."""
        return self.scenario.duration

    @property
    def warmup(self) -> float:
        """Seconds of load before the baseline, judged by nothing."""
        return self.scenario.load.warmup

    @property
    def end(self) -> float:
        """Offset of the run's end (the load stops, verifiers run), seconds after the baseline starts."""
        return self.duration - self.warmup

    def phase_start(self, phase: Phase) -> float:
        return next(s.offset for s in self.steps if s.action == Action.PHASE and s.phase == phase)


def make_plan(scenario: Scenario, target: TargetEndpoints, *, run_id: str | None = None) -> Plan:
    """The timeline of ``scenario`` on ``target`` for a run (``run_id``: a new one when not given); raises
    InjectorError when a fault cannot apply to the target."""
    run_id = run_id or secrets.token_hex(4)
    faults = tuple(
        PlannedFault(f, _for_run(INJECTORS[f.type].plan(f, target), run_id)) for f in scenario.faults
    )
    window = scenario.steady_state.window
    fault_start = window
    recovery_start = fault_start + scenario.fault_span
    after_start = recovery_start + scenario.recovery
    warmup = [Step(-scenario.load.warmup, Action.PHASE, Phase.WARMUP)] if scenario.load.warmup > 0 else []
    steps = [
        *warmup,
        Step(0.0, Action.PHASE, Phase.BASELINE),
        Step(fault_start, Action.PHASE, Phase.FAULT),
        Step(recovery_start, Action.PHASE, Phase.RECOVERY),
        Step(after_start, Action.PHASE, Phase.AFTER),
    ]
    for fault in scenario.faults:
        steps.append(Step(fault_start + fault.at, Action.INJECT, fault=fault))
        steps.append(Step(fault_start + fault.at + fault.duration, Action.REVERT, fault=fault))
    # At equal offsets: phase changes first, then reverts, then injections — so back-to-back faults on one proxy
    # never overlap, and a fault at offset 0 belongs to the fault phase.
    order = {Action.PHASE: 0, Action.REVERT: 1, Action.INJECT: 2}
    steps.sort(key=lambda s: (s.offset, order[s.action]))
    return Plan(scenario, target, faults, tuple(steps), run_id)


def _for_run(plan: FaultPlan[Any], run_id: str) -> FaultPlan[Any]:
    return replace(plan, undo=plan.undo.for_run(run_id))


def placeholder_endpoints(target: EmbeddedTarget) -> TargetEndpoints:
    """What an embedded stack will look like before it is started: its ports are picked at start."""
    # every embedded stack has the same shape; only its ports differ
    return declared_endpoints(
        target.declaration,
        service_url="http://127.0.0.1:<gateway-port>",
        toxiproxy_url="http://127.0.0.1:<toxiproxy-port>",
        supervisor_url="unix://<stack-dir>/supervisord.sock",
        proxies=dict(PROXIES),
        programs=PROGRAMS,
    )
