"""``scale_outage``: scale a Deployment or StatefulSet to zero for the fault's duration — a whole service gone, as
after a bad rollout or a deleted HPA floor.

The replica count at planning time is the undo, journalled before the scale is patched; revert patches it back
(also from ``mlchaos rollback`` after a SIGKILL). The system cannot heal alone, so MTTR counts from the revert.

The count to restore is also written *on the workload*, as the annotation ``mlchaos.io/restore-replicas``, before
it is scaled to 0, and removed by the revert. A run killed mid-outage (node loss, OOM) that nobody rolled back
leaves the workload at 0 with that annotation: the next run restores the annotated count — never the 0 it finds —
and says so in its plan and journal. The annotation is believed only while the workload is still at 0: a workload
someone has scaled up since is running at the count they chose, which is then the one to restore.
"""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import Field

from mlchaos.experiments.kubernetes.access import WORKLOAD_PATTERN, ClusterAccess, WorkloadRef
from mlchaos.experiments.kubernetes.client import Cluster, connect
from mlchaos.experiments.kubernetes.workloads import (
    read_annotation,
    read_replicas,
    set_annotation,
    set_replicas,
)
from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.injectors.backends.kubernetes import cluster_of, kube_errors
from mlchaos.injectors.base import (
    ActionLog,
    FaultPlan,
    FaultSpec,
    InjectorError,
    TargetMisconfigured,
    Undo,
)

log = logging.getLogger(__name__)

RESTORE_ANNOTATION = "mlchaos.io/restore-replicas"
"""On a workload while a scale outage holds it at 0: the replica count its revert restores."""


class ScaleOutage(FaultSpec):
    type: Literal["scale_outage"]
    workload: str = Field(pattern=WORKLOAD_PATTERN, description="deployment/NAME or statefulset/NAME.")
    namespace: str | None = Field(None, description="Default: the target's namespace (must be allowlisted).")


class ScaleOutageUndo(Undo):
    access: ClusterAccess
    workload: WorkloadRef
    replicas: int
    """The replica count to restore: the count when the run was planned, or the one an unfinished run left on
    the workload (:data:`RESTORE_ANNOTATION`) when it was still at 0."""
    found: int | None = None
    """The replica count when the run was planned (``None`` in journals of older versions: ``replicas``)."""

    @property
    def expected_now(self) -> int:
        return self.replicas if self.found is None else self.found


class ScaleOutageInjector:
    spec = ScaleOutage
    undo = ScaleOutageUndo

    def plan(self, spec: ScaleOutage, target: TargetEndpoints) -> FaultPlan[ScaleOutageUndo]:
        """Reads the workload's replica count and annotation now: what revert restores."""
        kube, namespace = cluster_of(target, spec.id, spec.namespace)
        workload = WorkloadRef.parse(spec.workload, namespace)
        with kube_errors():
            cluster = connect(kube.access)
            found = read_replicas(cluster, workload)
            left = _left_behind(cluster, workload, spec.id)
        if found == 0 and left is None:
            raise TargetMisconfigured(
                f"fault '{spec.id}': {workload} already has 0 replicas: nothing to take down"
            )
        replicas, touches = found, f"{workload}: {found} replicas now"
        if left is not None and found == 0:
            replicas = left
            touches += (
                f"; {RESTORE_ANNOTATION}={left} was left on it by a run that did not finish: revert restores "
                f"{left}, not 0"
            )
        elif left is not None:
            touches += f"; a stale {RESTORE_ANNOTATION}={left} is ignored (it runs with {found}: restored)"
        return FaultPlan(
            touches=(touches,),
            description=f"scale {workload.short} from {found} to 0 replicas; revert restores {replicas}",
            undo=ScaleOutageUndo(access=kube.access, workload=workload, replicas=replicas, found=found),
        )

    def check(self, undo: ScaleOutageUndo) -> None:
        with kube_errors():
            read_replicas(connect(undo.access), undo.workload)

    def inject(self, spec: ScaleOutage, undo: ScaleOutageUndo) -> None:
        self.inject_journalled(spec, undo, lambda _: None)

    def inject_journalled(self, spec: ScaleOutage, undo: ScaleOutageUndo, note: ActionLog) -> None:
        """Writes the count to restore on the workload, then scales it to 0: a run killed in between or after
        leaves the count where the next run finds it."""
        with kube_errors():
            cluster = connect(undo.access)
            now = read_replicas(cluster, undo.workload)
            if now != undo.expected_now:
                # Restoring the planned count would undo someone else's change: stop before touching anything.
                raise InjectorError(
                    f"{undo.workload} has {now} replicas, not the {undo.expected_now} planned (and journalled "
                    "for the revert): someone scaled it since; plan again"
                )
            if undo.replicas != now:
                note(
                    f"{undo.workload} is at {now} replicas, left so by a run that did not finish: restoring "
                    f"{undo.replicas} from its {RESTORE_ANNOTATION} annotation at the revert"
                )
            note(f"annotating {undo.workload} with {RESTORE_ANNOTATION}={undo.replicas}, scaling it to 0")
            set_annotation(cluster, undo.workload, RESTORE_ANNOTATION, str(undo.replicas))
            set_replicas(cluster, undo.workload, 0)

    def revert(self, undo: ScaleOutageUndo) -> None:
        """Restores the journalled count, then removes the annotation; safe to repeat."""
        with kube_errors():
            cluster = connect(undo.access)
            now = read_replicas(cluster, undo.workload)
            if now != undo.replicas:
                if now != 0:
                    log.warning(
                        "%s was scaled to %d during the outage (not by mlchaos); restoring the journalled %d",
                        undo.workload,
                        now,
                        undo.replicas,
                    )
                set_replicas(cluster, undo.workload, undo.replicas)
            # Only after the restore: a revert killed in between leaves the count for the next run to find.
            if read_annotation(cluster, undo.workload, RESTORE_ANNOTATION) is not None:
                set_annotation(cluster, undo.workload, RESTORE_ANNOTATION, None)


def _left_behind(cluster: Cluster, workload: WorkloadRef, fault_id: str) -> int | None:
    """The count an earlier run wrote on the workload and did not remove, or ``None``."""
    text = read_annotation(cluster, workload, RESTORE_ANNOTATION)
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise TargetMisconfigured(
            f"fault '{fault_id}': {workload} carries {RESTORE_ANNOTATION}={text!r}, not a replica count: set "
            f"the replicas it should run with and remove it (kubectl annotate {workload.short} -n "
            f"{workload.namespace} {RESTORE_ANNOTATION}-)"
        )
    return int(text)


INJECTOR = ScaleOutageInjector()
