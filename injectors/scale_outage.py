"""``scale_outage``: scale a Deployment or StatefulSet to zero for the fault's duration — a whole service gone, as
after a bad rollout or a deleted HPA floor.

The replica count at planning time is the undo, journalled before the scale is patched; revert patches it back
(also from ``mlchaos rollback`` after a SIGKILL). The system cannot heal alone, so MTTR counts from the revert.
"""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import Field

from mlchaos.experiments.kubernetes.access import WORKLOAD_PATTERN, ClusterAccess, WorkloadRef
from mlchaos.experiments.kubernetes.client import connect
from mlchaos.experiments.kubernetes.workloads import read_replicas, set_replicas
from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.injectors.backends.kubernetes import cluster_of, kube_errors
from mlchaos.injectors.base import FaultPlan, FaultSpec, InjectorError, TargetMisconfigured, Undo

log = logging.getLogger(__name__)


class ScaleOutage(FaultSpec):
    type: Literal["scale_outage"]
    workload: str = Field(pattern=WORKLOAD_PATTERN, description="deployment/NAME or statefulset/NAME.")
    namespace: str | None = Field(None, description="Default: the target's namespace (must be allowlisted).")


class ScaleOutageUndo(Undo):
    access: ClusterAccess
    workload: WorkloadRef
    replicas: int
    """The replica count to restore, read when the run was planned."""


class ScaleOutageInjector:
    kind = "scale_outage"
    spec = ScaleOutage
    undo = ScaleOutageUndo

    def plan(self, spec: ScaleOutage, target: TargetEndpoints) -> FaultPlan[ScaleOutageUndo]:
        """Reads the workload's replica count now: that is what revert restores."""
        kube, namespace = cluster_of(target, spec.id, spec.namespace)
        workload = WorkloadRef.parse(spec.workload, namespace)
        with kube_errors():
            replicas = read_replicas(connect(kube.access), workload)
        if replicas == 0:
            raise TargetMisconfigured(
                f"fault '{spec.id}': {workload} already has 0 replicas: nothing to take down"
            )
        return FaultPlan(
            touches=(f"{workload}: {replicas} replicas now",),
            description=f"scale {workload.short} from {replicas} to 0 replicas; revert restores {replicas}",
            undo=ScaleOutageUndo(access=kube.access, workload=workload, replicas=replicas),
        )

    def check(self, undo: ScaleOutageUndo) -> None:
        with kube_errors():
            read_replicas(connect(undo.access), undo.workload)

    def inject(self, spec: ScaleOutage, undo: ScaleOutageUndo) -> None:
        with kube_errors():
            cluster = connect(undo.access)
            now = read_replicas(cluster, undo.workload)
            if now != undo.replicas:
                # Restoring the planned count would undo someone else's change: stop before touching anything.
                raise InjectorError(
                    f"{undo.workload} has {now} replicas, not the {undo.replicas} planned (and journalled for the "
                    "revert): someone scaled it since; plan again"
                )
            set_replicas(cluster, undo.workload, 0)

    def revert(self, undo: ScaleOutageUndo) -> None:
        with kube_errors():
            cluster = connect(undo.access)
            now = read_replicas(cluster, undo.workload)
            if now == undo.replicas:
                return
            if now != 0:
                log.warning(
                    "%s was scaled to %d during the outage (not by mlchaos); restoring the journalled %d",
                    undo.workload,
                    now,
                    undo.replicas,
                )
            set_replicas(cluster, undo.workload, undo.replicas)


INJECTOR = ScaleOutageInjector()
