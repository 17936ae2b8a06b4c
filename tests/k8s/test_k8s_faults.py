"""The Kubernetes faults, driven directly against the real API server: what they choose, what they journal, and
that their reverts are idempotent and restore what was journalled."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from k8s_cluster import KubeCluster
from k8s_run_helpers import kubernetes_target, ready_deployment, ready_pods, replicas, wait_ready
from kubernetes import client as k8s
from support.waiting import wait_until

from mlchaos.experiments.kubernetes.access import PodRef
from mlchaos.experiments.kubernetes.client import connect
from mlchaos.experiments.kubernetes.workloads import delete_pod
from mlchaos.experiments.session import kubernetes_endpoints
from mlchaos.experiments.targets import KubernetesTarget, TargetEndpoints
from mlchaos.injectors.base import InjectorError, TargetMisconfigured
from mlchaos.injectors.k8s_pod_kill import INJECTOR as POD_KILL
from mlchaos.injectors.k8s_pod_kill import K8sPodKill
from mlchaos.injectors.scale_outage import INJECTOR as SCALE_OUTAGE
from mlchaos.injectors.scale_outage import ScaleOutage


def endpoints(cluster: KubeCluster, namespace: str, **overrides: object) -> TargetEndpoints:
    target = KubernetesTarget.model_validate(kubernetes_target(cluster, namespace, **overrides))
    return kubernetes_endpoints(target)


def pod_kill(**fields: object) -> K8sPodKill:
    return K8sPodKill.model_validate({"type": "k8s_pod_kill", "id": "kill", "duration": 10, **fields})


def test_repeated_rounds_journal_each_victim_and_stop_at_the_total_cap(
    kube_cluster: KubeCluster, namespace: str
) -> None:
    original = ready_deployment(kube_cluster, namespace, "primary", 3)
    spec = pod_kill(selector="app=primary", mode="one", grace_period=0, interval=0.5, max_total=3)
    plan = POD_KILL.plan(spec, endpoints(kube_cluster, namespace))
    log: list[str] = []

    POD_KILL.inject_journalled(spec, plan.undo, log.append)
    wait_until(
        lambda: any("max_total 3 reached" in line for line in log),
        60,
        "three kill rounds and the cap",
        interval_s=0.2,
    )
    POD_KILL.revert(plan.undo)
    POD_KILL.revert(plan.undo)  # idempotent

    deletions = [line for line in log if line.startswith("deleting")]
    assert len(deletions) == 3, log
    assert all(line.count("(uid ") == 1 for line in deletions), "one pod per round, named with its UID"
    killed = {re.findall(r"\(uid ([0-9a-f-]+)\)", line)[0] for line in deletions}
    assert len(killed) == 3, "each round deleted a live pod, never one already deleted"
    wait_ready(kube_cluster, namespace, "primary", 3)
    assert not killed & set(ready_pods(kube_cluster, namespace, "app=primary")), "replaced by new pods"
    assert set(ready_pods(kube_cluster, namespace, "app=primary")) != set(original)


def test_a_pod_is_deleted_only_if_its_uid_still_matches(kube_cluster: KubeCluster, namespace: str) -> None:
    pods = ready_deployment(kube_cluster, namespace, "primary", 1)
    [(uid, name)] = pods.items()
    cluster = connect(endpoints(kube_cluster, namespace).kubernetes.access)  # type: ignore[union-attr]

    assert not delete_pod(
        cluster, namespace, PodRef(name=name, uid="00000000-0000-0000-0000-000000000000"), 0
    )
    assert ready_pods(kube_cluster, namespace, "app=primary") == pods, "a pod with another UID is left alone"
    assert delete_pod(cluster, namespace, PodRef(name=name, uid=uid), 0)
    assert not delete_pod(cluster, namespace, PodRef(name=name, uid=uid), 0), "already gone: nothing to do"


def test_check_fails_when_the_selector_matches_nothing(kube_cluster: KubeCluster, namespace: str) -> None:
    ready_deployment(kube_cluster, namespace, "primary", 1)
    plan = POD_KILL.plan(pod_kill(selector="app=nothing"), endpoints(kube_cluster, namespace))
    assert plan.touches == (f"no pod matches 'app=nothing' in namespace {namespace} now",)
    with pytest.raises(TargetMisconfigured, match="no pod matches 'app=nothing'"):
        POD_KILL.check(plan.undo)


def scale_outage(workload: str = "deployment/primary") -> ScaleOutage:
    return ScaleOutage.model_validate(
        {"type": "scale_outage", "id": "down", "duration": 5, "workload": workload}
    )


def test_scale_outage_revert_is_idempotent(kube_cluster: KubeCluster, namespace: str) -> None:
    ready_deployment(kube_cluster, namespace, "primary", 3)
    plan = SCALE_OUTAGE.plan(scale_outage(), endpoints(kube_cluster, namespace))
    assert plan.undo.replicas == 3

    SCALE_OUTAGE.revert(plan.undo)  # before injecting: nothing to do
    assert replicas(kube_cluster, namespace, "primary") == 3
    SCALE_OUTAGE.inject(scale_outage(), plan.undo)
    assert replicas(kube_cluster, namespace, "primary") == 0
    SCALE_OUTAGE.revert(plan.undo)
    SCALE_OUTAGE.revert(plan.undo)
    assert replicas(kube_cluster, namespace, "primary") == 3
    wait_ready(kube_cluster, namespace, "primary", 3)


def test_scale_outage_restores_the_journalled_count_and_says_someone_changed_it(
    kube_cluster: KubeCluster, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    ready_deployment(kube_cluster, namespace, "primary", 2)
    plan = SCALE_OUTAGE.plan(scale_outage(), endpoints(kube_cluster, namespace))
    SCALE_OUTAGE.inject(scale_outage(), plan.undo)
    apps = k8s.AppsV1Api(kube_cluster.api)
    apps.patch_namespaced_deployment_scale("primary", namespace, {"spec": {"replicas": 1}})

    with caplog.at_level(logging.WARNING):
        SCALE_OUTAGE.revert(plan.undo)

    assert replicas(kube_cluster, namespace, "primary") == 2
    assert "was scaled to 1 during the outage (not by mlchaos); restoring the journalled 2" in caplog.text


def test_scale_outage_refuses_to_inject_when_the_workload_changed_since_the_plan(
    kube_cluster: KubeCluster, namespace: str
) -> None:
    ready_deployment(kube_cluster, namespace, "primary", 2)
    plan = SCALE_OUTAGE.plan(scale_outage(), endpoints(kube_cluster, namespace))
    k8s.AppsV1Api(kube_cluster.api).patch_namespaced_deployment_scale(
        "primary", namespace, {"spec": {"replicas": 4}}
    )

    with pytest.raises(InjectorError, match="has 4 replicas, not the 2 planned"):
        SCALE_OUTAGE.inject(scale_outage(), plan.undo)
    assert replicas(kube_cluster, namespace, "primary") == 4, "nothing was touched"


def test_scale_outage_of_a_statefulset(kube_cluster: KubeCluster, namespace: str) -> None:
    labels = {"app": "store"}
    k8s.AppsV1Api(kube_cluster.api).create_namespaced_stateful_set(
        namespace,
        k8s.V1StatefulSet(
            metadata=k8s.V1ObjectMeta(name="store"),
            spec=k8s.V1StatefulSetSpec(
                replicas=2,
                service_name="store",
                selector=k8s.V1LabelSelector(match_labels=labels),
                template=k8s.V1PodTemplateSpec(
                    metadata=k8s.V1ObjectMeta(labels=labels),
                    spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="redis", image="redis:7")]),
                ),
            ),
        ),
    )
    spec = scale_outage("statefulset/store")
    plan = SCALE_OUTAGE.plan(spec, endpoints(kube_cluster, namespace))
    SCALE_OUTAGE.inject(spec, plan.undo)
    scale = k8s.AppsV1Api(kube_cluster.api).read_namespaced_stateful_set_scale
    assert not scale("store", namespace).spec.replicas
    SCALE_OUTAGE.revert(plan.undo)
    assert scale("store", namespace).spec.replicas == 2


def test_faults_need_a_kubernetes_target(tmp_path: Path) -> None:
    with pytest.raises(TargetMisconfigured, match="this target is not one"):
        SCALE_OUTAGE.plan(scale_outage(), TargetEndpoints(service_url="http://127.0.0.1:9"))
