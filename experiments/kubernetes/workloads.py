"""What the faults and probes read and change: pods by label selector, and the scale of Deployments and
StatefulSets. Every call has a timeout and raises only :class:`~mlchaos.experiments.kubernetes.client.KubernetesError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s

from mlchaos.experiments.kubernetes.access import PodRef, WorkloadKind, WorkloadRef
from mlchaos.experiments.kubernetes.client import Cluster, KubernetesError, ObjectMissing, call


@dataclass(frozen=True)
class PodState:
    pod: PodRef
    ready: bool
    restarts: int


def live_pods(cluster: Cluster, namespace: str, selector: str) -> list[PodState]:
    """Pods matching ``selector`` that are not already being deleted, sorted by name."""
    pods = call(
        f"list pods '{selector}' in namespace {namespace}",
        cluster.core.list_namespaced_pod,
        namespace,
        label_selector=selector,
    ).items
    states = [_state(pod) for pod in pods if pod.metadata and pod.metadata.deletion_timestamp is None]
    return sorted(states, key=lambda state: state.pod.name)


def _state(pod: k8s.V1Pod) -> PodState:
    status = pod.status or k8s.V1PodStatus()
    ready = any(c.type == "Ready" and c.status == "True" for c in status.conditions or [])
    restarts = sum(c.restart_count or 0 for c in status.container_statuses or [])
    metadata = pod.metadata or k8s.V1ObjectMeta()
    return PodState(PodRef(name=str(metadata.name), uid=str(metadata.uid)), ready, restarts)


def delete_pod(cluster: Cluster, namespace: str, pod: PodRef, grace_period_s: int | None) -> bool:
    """Delete exactly this pod (UID precondition); False when it was already gone or replaced."""
    options = k8s.V1DeleteOptions(
        grace_period_seconds=grace_period_s, preconditions=k8s.V1Preconditions(uid=pod.uid)
    )
    try:
        call(f"delete {pod}", cluster.core.delete_namespaced_pod, pod.name, namespace, body=options)
    except ObjectMissing:
        return False
    except KubernetesError as exc:
        if "Precondition failed" in str(exc) or "HTTP 409" in str(exc):
            return False  # a pod of that name with another UID: the one we meant is gone already
        raise
    return True


def read_replicas(cluster: Cluster, workload: WorkloadRef) -> int:
    read = {
        WorkloadKind.DEPLOYMENT: cluster.apps.read_namespaced_deployment_scale,
        WorkloadKind.STATEFULSET: cluster.apps.read_namespaced_stateful_set_scale,
    }[workload.kind]
    scale: Any = call(f"read the scale of {workload}", read, workload.name, workload.namespace)
    return int(scale.spec.replicas or 0)


def set_replicas(cluster: Cluster, workload: WorkloadRef, replicas: int) -> None:
    patch = {
        WorkloadKind.DEPLOYMENT: cluster.apps.patch_namespaced_deployment_scale,
        WorkloadKind.STATEFULSET: cluster.apps.patch_namespaced_stateful_set_scale,
    }[workload.kind]
    body = {"spec": {"replicas": replicas}}
    call(f"scale {workload} to {replicas}", patch, workload.name, workload.namespace, body)


def read_annotation(cluster: Cluster, workload: WorkloadRef, key: str) -> str | None:
    read = {
        WorkloadKind.DEPLOYMENT: cluster.apps.read_namespaced_deployment,
        WorkloadKind.STATEFULSET: cluster.apps.read_namespaced_stateful_set,
    }[workload.kind]
    found: Any = call(f"read {workload}", read, workload.name, workload.namespace)
    return (found.metadata.annotations or {}).get(key)


def set_annotation(cluster: Cluster, workload: WorkloadRef, key: str, value: str | None) -> None:
    """Set ``key`` on the workload's own metadata, or remove it (``None``); a merge patch touches nothing else."""
    patch = {
        WorkloadKind.DEPLOYMENT: cluster.apps.patch_namespaced_deployment,
        WorkloadKind.STATEFULSET: cluster.apps.patch_namespaced_stateful_set,
    }[workload.kind]
    body = {"metadata": {"annotations": {key: value}}}
    what = f"annotate {workload} with {key}={value}" if value is not None else f"remove {key} from {workload}"
    call(what, patch, workload.name, workload.namespace, body)


@dataclass(frozen=True)
class WorkloadStatus:
    desired: int
    ready: int
    restarts: int
    """Container restarts summed over the workload's current pods."""

    @property
    def healthy(self) -> bool:
        """Every wanted replica is ready — and some are wanted: a workload scaled to zero serves nothing."""
        return self.desired > 0 and self.ready >= self.desired


def workload_status(cluster: Cluster, workload: WorkloadRef) -> WorkloadStatus:
    read = {
        WorkloadKind.DEPLOYMENT: cluster.apps.read_namespaced_deployment,
        WorkloadKind.STATEFULSET: cluster.apps.read_namespaced_stateful_set,
    }[workload.kind]
    found: Any = call(f"read {workload}", read, workload.name, workload.namespace)
    labels = found.spec.selector.match_labels or {}
    selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    pods = live_pods(cluster, workload.namespace, selector) if selector else []
    return WorkloadStatus(
        desired=int(found.spec.replicas or 0),
        ready=int(found.status.ready_replicas or 0),
        restarts=sum(p.restarts for p in pods),
    )
