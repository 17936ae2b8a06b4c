"""The test cluster behaves like a real one where the Kubernetes faults rely on it: a Deployment's pods are scheduled
onto the fake nodes and become Ready, and a deleted pod is replaced by the ReplicaSet controller with a new pod (new
UID) that becomes Ready in turn."""

from __future__ import annotations

from k8s_cluster import KubeCluster
from kubernetes import client as k8s
from support.waiting import wait_until


def deployment(name: str, replicas: int) -> k8s.V1Deployment:
    labels = {"app": name}
    return k8s.V1Deployment(
        metadata=k8s.V1ObjectMeta(name=name),
        spec=k8s.V1DeploymentSpec(
            replicas=replicas,
            selector=k8s.V1LabelSelector(match_labels=labels),
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels=labels),
                spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="model", image="mlchaos/fake-model:1")]),
            ),
        ),
    )


def ready_pods(core: k8s.CoreV1Api, namespace: str, selector: str) -> dict[str, str]:
    """UID → name of the pods that are Ready and not being deleted."""
    pods = core.list_namespaced_pod(namespace, label_selector=selector).items
    return {
        pod.metadata.uid: pod.metadata.name
        for pod in pods
        if pod.metadata.deletion_timestamp is None
        and any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))
    }


def test_deployment_becomes_ready_on_fake_nodes(kube_cluster: KubeCluster, namespace: str) -> None:
    apps = k8s.AppsV1Api(kube_cluster.api)
    core = k8s.CoreV1Api(kube_cluster.api)
    apps.create_namespaced_deployment(namespace, deployment("primary", replicas=3))

    wait_until(
        lambda: apps.read_namespaced_deployment_status("primary", namespace).status.ready_replicas == 3,
        60,
        "3 ready replicas",
        interval_s=0.2,
    )
    pods = core.list_namespaced_pod(namespace, label_selector="app=primary").items
    assert {pod.spec.node_name for pod in pods} <= set(kube_cluster.nodes)
    assert all(pod.status.pod_ip for pod in pods), "kwok gives every running pod an IP"


def test_deleted_pod_is_recreated_and_becomes_ready(kube_cluster: KubeCluster, namespace: str) -> None:
    apps = k8s.AppsV1Api(kube_cluster.api)
    core = k8s.CoreV1Api(kube_cluster.api)
    apps.create_namespaced_deployment(namespace, deployment("primary", replicas=3))
    wait_until(
        lambda: len(ready_pods(core, namespace, "app=primary")) == 3, 60, "3 ready pods", interval_s=0.2
    )
    before = ready_pods(core, namespace, "app=primary")
    victim_uid, victim = next(iter(before.items()))

    core.delete_namespaced_pod(victim, namespace, grace_period_seconds=0)

    wait_until(
        lambda: len(now := ready_pods(core, namespace, "app=primary")) == 3 and victim_uid not in now,
        60,
        "a replacement pod Ready",
        interval_s=0.2,
    )
    after = ready_pods(core, namespace, "app=primary")
    replacements = set(after) - set(before)
    assert len(replacements) == 1, f"exactly one new pod replaces {victim}: {after}"
    replacement = core.read_namespaced_pod(after[replacements.pop()], namespace)
    (owner,) = replacement.metadata.owner_references
    assert owner.kind == "ReplicaSet" and owner.controller, "the ReplicaSet controller made the replacement"
    assert replacement.spec.node_name in kube_cluster.nodes
