"""Readiness and restarts of the target's workloads, as probe samples (see
:class:`~mlchaos.experiments.records.ProbeSample`):

- ``workload:<kind>/<name>``: ``number`` is the ready replicas, ``value`` is ``ready/desired``, ``ok`` is whether
  every desired replica is ready (a workload scaled to zero is not ok: it serves nothing);
- ``restarts:<kind>/<name>``: ``number`` is the container restarts summed over its current pods.

A workload that cannot be read gives a failed sample with the reason: probe failures are data.
"""

from __future__ import annotations

import time

from mlchaos.experiments.kubernetes.access import KubernetesEndpoints, WorkloadRef
from mlchaos.experiments.kubernetes.client import KubernetesError, connect
from mlchaos.experiments.kubernetes.workloads import workload_status
from mlchaos.experiments.records import ProbeSample
from mlchaos.experiments.targets import TargetEndpoints


def readiness_check(workload: WorkloadRef) -> str:
    return f"workload:{workload.short}"


def restarts_check(workload: WorkloadRef) -> str:
    return f"restarts:{workload.short}"


def sample_workloads(endpoints: KubernetesEndpoints) -> list[ProbeSample]:
    samples = []
    for workload in endpoints.workloads:
        started = time.time()
        try:
            status = workload_status(connect(endpoints.access), workload)
        except KubernetesError as exc:
            latency_ms = (time.time() - started) * 1000
            samples.append(ProbeSample(started, readiness_check(workload), False, None, latency_ms, str(exc)))
            continue
        latency_ms = (time.time() - started) * 1000
        samples += [
            ProbeSample(
                started,
                readiness_check(workload),
                status.healthy,
                f"{status.ready}/{status.desired}",
                latency_ms,
                number=status.ready,
            ),
            ProbeSample(started, restarts_check(workload), True, None, latency_ms, number=status.restarts),
        ]
    return samples


def describe_cluster(target: TargetEndpoints) -> list[str]:
    """What ``mlchaos plan`` prints about a Kubernetes target: where, which workloads (read now), which proxies."""
    kube = target.kubernetes
    assert kube is not None
    lines = [
        f"target: kubernetes, {kube.access.describe()} → context '{kube.context}' at {kube.server}, "
        f"namespace {kube.namespace} (allowed: {', '.join(kube.allowed_namespaces)})",
        f"service: {target.service_url}",
    ]
    for workload in kube.workloads:
        try:
            status = workload_status(connect(kube.access), workload)
            state = f"{status.desired} replicas, {status.ready} ready, {status.restarts} restarts"
        except KubernetesError as exc:
            state = f"cannot be read: {exc}"
        lines.append(f"probed workload {workload}: {state}")
    for dependency, proxy in sorted(target.proxies.items()):
        lines.append(
            f"toxiproxy proxy '{proxy}' ({dependency}) at {target.toxiproxy_url or '(no toxiproxy_url)'}"
        )
    return lines
