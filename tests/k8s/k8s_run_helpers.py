"""Helpers for the Kubernetes target's tests: workloads in the test cluster, kubeconfigs with chosen context names,
and scenarios whose target is the cluster.

kwok's pods serve no traffic, so the scenarios send their load to the embedded reference stack, started outside
the runs (a stand-in gateway, as a port-forward would give on a laptop): the engine's load, steady state and
toxiproxy work as usual, while the Kubernetes faults act on the cluster and MTTR is measured from the workloads'
readiness.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from k8s_cluster import KubeCluster
from kubernetes import client as k8s
from support.cli_runs import DATASET
from support.waiting import wait_until

from mlchaos.staging.endpoints import StackEndpoints


def deployment(name: str, replicas: int) -> k8s.V1Deployment:
    labels = {"app": name}
    return k8s.V1Deployment(
        metadata=k8s.V1ObjectMeta(name=name, labels=labels),
        spec=k8s.V1DeploymentSpec(
            replicas=replicas,
            selector=k8s.V1LabelSelector(match_labels=labels),
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels=labels),
                spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="model", image="mlchaos/fake-model:1")]),
            ),
        ),
    )


def ready_pods(cluster: KubeCluster, namespace: str, selector: str) -> dict[str, str]:
    """UID → name of the pods that are Ready and not being deleted."""
    pods = k8s.CoreV1Api(cluster.api).list_namespaced_pod(namespace, label_selector=selector).items
    return {
        pod.metadata.uid: pod.metadata.name
        for pod in pods
        if pod.metadata.deletion_timestamp is None
        and any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))
    }


def ready_deployment(cluster: KubeCluster, namespace: str, name: str, replicas: int) -> dict[str, str]:
    """Create a Deployment and wait until all its pods are Ready; their UID → name."""
    k8s.AppsV1Api(cluster.api).create_namespaced_deployment(namespace, deployment(name, replicas))
    wait_ready(cluster, namespace, name, replicas)
    return ready_pods(cluster, namespace, f"app={name}")


def wait_ready(cluster: KubeCluster, namespace: str, name: str, replicas: int) -> None:
    apps = k8s.AppsV1Api(cluster.api)

    def ready() -> bool:
        status = apps.read_namespaced_deployment(name, namespace).status
        return (
            status.ready_replicas == replicas
            and len(ready_pods(cluster, namespace, f"app={name}")) == replicas
        )

    wait_until(ready, 60, f"{replicas} ready replicas of deployment/{name}", interval_s=0.2)


def replicas(cluster: KubeCluster, namespace: str, name: str) -> int:
    scale = k8s.AppsV1Api(cluster.api).read_namespaced_deployment_scale(name, namespace)
    return int(scale.spec.replicas or 0)  # the API omits a zero


def kubeconfig_with_context(cluster: KubeCluster, directory: Path, context: str) -> Path:
    """A copy of the cluster's kubeconfig whose (only) context is called ``context``."""
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["contexts"][0]["name"] = context
    config["current-context"] = context
    path = directory / f"kubeconfig-{context}"
    path.write_text(yaml.safe_dump(config))
    return path


NOWHERE = "http://127.0.0.1:9"
"""Planning and refusals send no traffic: a URL nothing listens on is enough for them."""


def kubernetes_target(
    cluster: KubeCluster, namespace: str, stand_in: StackEndpoints | None = None, **overrides: Any
) -> dict[str, Any]:
    """A target on the test cluster; the service and toxiproxy are the stand-in's (or nowhere, for planning)."""
    target: dict[str, Any] = {
        "kind": "kubernetes",
        "kubeconfig": str(cluster.kubeconfig),
        "namespace": namespace,
        "allowed_namespaces": [namespace],
        "service_url": stand_in.gateway_url if stand_in else NOWHERE,
        "toxiproxy_url": stand_in.toxiproxy_url if stand_in else NOWHERE,
        "proxies": dict(stand_in.proxies) if stand_in else {"feature_store": "feature_store"},
        "workloads": ["deployment/primary"],
    }
    return {**target, **overrides}


def write_scenario(
    directory: Path,
    target: dict[str, Any],
    faults: list[dict[str, Any]],
    *,
    name: str = "k8s",
    verifiers: list[dict[str, Any]] | None = None,
    recovery_s: float = 4.0,
) -> Path:
    """A short scenario (3 s baseline, the faults, ``recovery_s`` recovery, 3 s after) against the cluster."""
    scenario = {
        "name": name,
        "target": target,
        "load": {"users": 2, "wait": [0.05, 0.1], "dataset": str(DATASET)},
        "steady_state": {"window": "3s", "min_availability": 0.95},
        "faults": faults,
        "recovery": f"{recovery_s}s",
        "verifiers": verifiers or [{"type": "availability", "min": 0.5}],
    }
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    return path
