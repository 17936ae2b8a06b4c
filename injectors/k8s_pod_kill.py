"""``k8s_pod_kill``: delete pods chosen by label selector, as a node failure, an eviction or a crashed pod would.

The ReplicaSet (or StatefulSet) controller replaces them: the system is expected to heal by itself, so MTTR counts
from the kill, and there is nothing to restore on revert — reverting only stops further kill rounds.

Pods are taken in name order, among those matching the selector and not already being deleted, so ``mlchaos plan``
shows exactly the pods a first round would delete right now. Each round's pods — names and UIDs — are journalled
before they are deleted, and each delete carries a UID precondition: a replacement pod is never deleted by mistake.
"""

from __future__ import annotations

import math
import threading
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from mlchaos.experiments.durations import PositiveSeconds
from mlchaos.experiments.kubernetes.access import ClusterAccess, PodRef
from mlchaos.experiments.kubernetes.client import KubernetesError, connect
from mlchaos.experiments.kubernetes.workloads import PodState, delete_pod, live_pods
from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.injectors.backends.kubernetes import cluster_of, kube_errors
from mlchaos.injectors.base import ActionLog, FaultPlan, FaultSpec, TargetMisconfigured, Undo


class K8sPodKill(FaultSpec):
    type: Literal["k8s_pod_kill"]
    selector: str = Field(min_length=1, description="Label selector of the pods, e.g. app=primary-model.")
    namespace: str | None = Field(None, description="Default: the target's namespace (must be allowlisted).")
    mode: Literal["one", "all", "count", "percent"] = "one"
    count: int | None = Field(None, ge=1, description="Pods per round, for mode: count.")
    percent: float | None = Field(
        None,
        gt=0,
        le=100,
        description="Share of the matching pods per round (rounded up), for mode: percent.",
    )
    grace_period: int | None = Field(
        None, ge=0, description="Seconds the pods get to terminate; 0 = force. Default: each pod's own."
    )
    interval: PositiveSeconds | None = Field(
        None, description="Kill again every this many seconds while the fault lasts. Default: kill once."
    )
    max_pods: int = Field(
        5, ge=1, description="Blast-radius cap per round: planning refuses a selection larger than this."
    )
    max_total: int | None = Field(None, ge=1, description="Blast-radius cap over the whole fault.")
    heals_itself: ClassVar[bool] = True

    @model_validator(mode="after")
    def _mode_has_its_number(self) -> K8sPodKill:
        if self.mode == "count" and self.count is None:
            raise ValueError("mode 'count' needs 'count': how many pods per round")
        if self.mode == "percent" and self.percent is None:
            raise ValueError("mode 'percent' needs 'percent': which share of the matching pods per round")
        return self

    def how_many(self, matching: int) -> int:
        wanted = {
            "one": 1,
            "all": matching,
            "count": self.count or 1,
            "percent": math.ceil(matching * (self.percent or 0) / 100),
        }[self.mode]
        return min(wanted, matching)


class K8sPodKillUndo(Undo):
    access: ClusterAccess
    namespace: str
    selector: str
    planned: tuple[PodRef, ...]
    """The pods a first round would have deleted when the run was planned (each round journals its own)."""


def _victims(spec: K8sPodKill, pods: list[PodState]) -> list[PodRef]:
    return [state.pod for state in pods[: spec.how_many(len(pods))]]


class K8sPodKillInjector:
    spec = K8sPodKill
    undo = K8sPodKillUndo

    def __init__(self) -> None:
        self._rounds: dict[K8sPodKillUndo, threading.Event] = {}
        self._threads: dict[K8sPodKillUndo, threading.Thread] = {}

    def plan(self, spec: K8sPodKill, target: TargetEndpoints) -> FaultPlan[K8sPodKillUndo]:
        """Reads the pods the selector matches now (nothing else), to show exactly which would be deleted."""
        kube, namespace = cluster_of(target, spec.id, spec.namespace)
        with kube_errors():
            pods = live_pods(connect(kube.access), namespace, spec.selector)
        victims = _victims(spec, pods)
        if len(victims) > spec.max_pods:
            raise TargetMisconfigured(
                f"fault '{spec.id}': '{spec.selector}' in namespace {namespace} selects {len(victims)} pods per "
                f"round, more than max_pods {spec.max_pods} (the blast-radius cap): narrow the selector or "
                "raise max_pods"
            )
        rounds = f", again every {spec.interval:g}s" if spec.interval else ""
        grace = "force" if spec.grace_period == 0 else f"grace {spec.grace_period}s"
        return FaultPlan(
            touches=tuple(f"{pod} in namespace {namespace}" for pod in victims)
            or (f"no pod matches '{spec.selector}' in namespace {namespace} now",),
            description=f"delete {len(victims)} of {len(pods)} pods matching '{spec.selector}' "
            f"(mode {spec.mode}, {grace if spec.grace_period is not None else 'their own grace'}{rounds}); "
            "their controller replaces them",
            undo=K8sPodKillUndo(
                access=kube.access, namespace=namespace, selector=spec.selector, planned=tuple(victims)
            ),
        )

    def check(self, undo: K8sPodKillUndo) -> None:
        with kube_errors():
            pods = live_pods(connect(undo.access), undo.namespace, undo.selector)
        if not pods:
            raise TargetMisconfigured(f"no pod matches '{undo.selector}' in namespace {undo.namespace}")

    def inject(self, spec: K8sPodKill, undo: K8sPodKillUndo) -> None:
        self.inject_journalled(spec, undo, lambda _: None)

    def inject_journalled(self, spec: K8sPodKill, undo: K8sPodKillUndo, log: ActionLog) -> None:
        """The first round now (its errors abort the run); further rounds, if any, in a thread until revert."""
        with kube_errors():
            killed = self._round(spec, undo, log, budget=spec.max_total)
        if spec.interval is None:
            return
        stop = threading.Event()
        thread = threading.Thread(
            target=self._repeat, args=(spec, undo, log, stop, killed), name=f"mlchaos-{spec.id}", daemon=True
        )
        self._rounds[undo], self._threads[undo] = stop, thread
        thread.start()

    def _round(self, spec: K8sPodKill, undo: K8sPodKillUndo, log: ActionLog, budget: int | None) -> int:
        cluster = connect(undo.access)
        victims = _victims(spec, live_pods(cluster, undo.namespace, undo.selector))
        victims = victims[: spec.max_pods if budget is None else min(spec.max_pods, budget)]
        if not victims:
            log(f"no pod to delete: none matches '{undo.selector}' in namespace {undo.namespace}")
            return 0
        log("deleting " + ", ".join(str(pod) for pod in victims) + f" in namespace {undo.namespace}")
        return sum(delete_pod(cluster, undo.namespace, pod, spec.grace_period) for pod in victims)

    def _repeat(
        self, spec: K8sPodKill, undo: K8sPodKillUndo, log: ActionLog, stop: threading.Event, killed: int
    ) -> None:
        assert spec.interval is not None
        while not stop.wait(spec.interval):
            budget = None if spec.max_total is None else spec.max_total - killed
            if budget is not None and budget <= 0:
                log(f"max_total {spec.max_total} reached: no further rounds")
                return
            try:
                killed += self._round(spec, undo, log, budget)
            except (
                KubernetesError
            ) as exc:  # a later round failing must not end the run: the next one may work
                log(f"kill round failed: {exc}")

    def revert(self, undo: K8sPodKillUndo) -> None:
        """Stops further rounds; deleted pods are their controller's to replace. Safe to call again, or after a
        crash (the rounds died with the process)."""
        stop, thread = self._rounds.pop(undo, None), self._threads.pop(undo, None)
        if stop is not None:
            stop.set()
        if thread is not None:
            thread.join(timeout=15)


INJECTOR = K8sPodKillInjector()
