"""A Kubernetes target is refused before anything is touched when it names a namespace outside its allowlist or a
cluster that looks like production; `mlchaos plan` lists the exact pods, workloads and proxies a run would touch,
read from the real API server."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from k8s_cluster import KubeCluster
from k8s_run_helpers import (
    kubeconfig_with_context,
    kubernetes_target,
    ready_deployment,
    ready_pods,
    replicas,
    write_scenario,
)
from support.cli_runs import run_mlchaos

from mlchaos.experiments.kubernetes.guard import production_matches
from mlchaos.experiments.verifiers.mttr import first_ready_window

KILL_HALF = {"type": "k8s_pod_kill", "id": "kill", "duration": 4, "selector": "app=primary", "mode": "percent",
             "percent": 50, "grace_period": 0}  # fmt: skip
SCALE_DOWN = {"type": "scale_outage", "id": "down", "at": 5, "duration": 4, "workload": "deployment/primary"}


@pytest.mark.parametrize(
    ("context", "server", "namespace", "matched"),
    [
        ("gke_acme_europe-west1_prod-eu", "https://10.0.0.1", "fraud", ["prod"]),
        ("staging", "https://api.live.example.com:6443", "fraud", ["live"]),
        ("staging", "https://10.0.0.1", "fraud-prd", ["prd"]),
        ("Production", "https://10.0.0.1", "fraud", ["production"]),
        ("product-search-staging", "https://delivery.example.com", "prodigy", []),
    ],
    ids=["context", "server", "namespace", "case", "words-that-merely-contain-prod"],
)
def test_production_is_recognised_by_whole_words(
    context: str, server: str, namespace: str, matched: list[str]
) -> None:
    found = production_matches(context=context, server=server, namespaces=[namespace])
    assert [m.word for m in found] == matched


def test_production_context_is_refused_before_the_cluster_is_touched(
    kube_cluster: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    before = ready_deployment(kube_cluster, namespace, "primary", 2)
    kubeconfig = kubeconfig_with_context(kube_cluster, tmp_path, "acme-prod-eu")
    target = kubernetes_target(kube_cluster, namespace, kubeconfig=str(kubeconfig))
    scenario = write_scenario(tmp_path, target, [{**KILL_HALF, "mode": "all"}])

    for command in (["plan"], ["run", "--out", str(tmp_path / "runs")]):
        result = run_mlchaos(*command, str(scenario))
        assert result.returncode == 2, result.stdout + result.stderr
        output = result.stdout + result.stderr
        assert "context 'acme-prod-eu' contains 'prod'" in output
        assert "--allow-production" in output
    assert ready_pods(kube_cluster, namespace, "app=primary") == before

    allowed = run_mlchaos("plan", "--allow-production", str(scenario))
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert all(name in allowed.stdout for name in before.values())


def test_production_override_in_the_target_file(
    kube_cluster: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    ready_deployment(kube_cluster, namespace, "primary", 1)
    kubeconfig = kubeconfig_with_context(kube_cluster, tmp_path, "live")
    target = kubernetes_target(kube_cluster, namespace, kubeconfig=str(kubeconfig))
    refused = run_mlchaos("plan", str(write_scenario(tmp_path, target, [KILL_HALF], name="refused")))
    assert refused.returncode == 2 and "context 'live' contains 'live'" in refused.stderr

    overridden = {**target, "allow_production": True}
    result = run_mlchaos("plan", str(write_scenario(tmp_path, overridden, [KILL_HALF], name="overridden")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_namespace_outside_the_allowlist_is_refused(
    kube_cluster: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    before = ready_deployment(kube_cluster, namespace, "primary", 2)
    target = kubernetes_target(kube_cluster, namespace, allowed_namespaces=["staging-a"])
    scenario = write_scenario(tmp_path, target, [KILL_HALF], name="outside")

    for command in (["validate"], ["plan"], ["run", "--out", str(tmp_path / "runs")]):
        result = run_mlchaos(*command, str(scenario))
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"namespace '{namespace}' is not in allowed_namespaces (staging-a)" in result.stderr
        assert "outside.yaml:" in result.stderr, "the problem points at the scenario file"
    assert not (tmp_path / "runs").exists(), "nothing ran"

    # A fault may act in another namespace only if that one is allowlisted too.
    target = kubernetes_target(kube_cluster, namespace)
    elsewhere = write_scenario(
        tmp_path, target, [{**KILL_HALF, "namespace": "kube-system"}], name="elsewhere"
    )
    result = run_mlchaos("plan", str(elsewhere))
    assert result.returncode == 2
    assert "namespace 'kube-system' is not in the target's allowed_namespaces" in result.stderr
    assert ready_pods(kube_cluster, namespace, "app=primary") == before


def test_plan_lists_the_exact_pods_workloads_and_proxies(
    kube_cluster: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    pods = ready_deployment(kube_cluster, namespace, "primary", 4)
    target = kubernetes_target(kube_cluster, namespace)
    scenario = write_scenario(tmp_path, target, [KILL_HALF, SCALE_DOWN], name="planned")

    result = run_mlchaos("plan", str(scenario))

    assert result.returncode == 0, result.stdout + result.stderr
    first_two = sorted(pods.items(), key=lambda item: item[1])[:2]  # 50 % of 4, in name order
    for uid, name in first_two:  # the table wraps its cells: each name and UID is shown whole, though
        assert f"pod {name}" in result.stdout and f"(uid {uid})" in result.stdout
    for uid, _name in sorted(pods.items(), key=lambda item: item[1])[2:]:
        assert uid not in result.stdout
    assert "scale deployment/primary from 4 to 0" in result.stdout and "4 replicas now" in result.stdout
    assert "probed workload deployment/primary" in result.stdout and "4 replicas, 4 ready" in result.stdout
    assert "toxiproxy proxy 'feature_store' (feature_store) at http://127.0.0.1:9" in result.stdout
    assert "context 'mlchaos-test'" in result.stdout
    assert ready_pods(kube_cluster, namespace, "app=primary") == pods, "planning changed nothing"
    assert replicas(kube_cluster, namespace, "primary") == 4


def test_plan_refuses_a_selection_over_the_blast_radius_cap(
    kube_cluster: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    ready_deployment(kube_cluster, namespace, "primary", 3)
    target = kubernetes_target(kube_cluster, namespace)
    scenario = write_scenario(tmp_path, target, [{**KILL_HALF, "mode": "all", "max_pods": 2}], name="capped")

    result = run_mlchaos("plan", str(scenario))

    assert result.returncode == 2
    assert "selects 3 pods per round, more than max_pods 2" in result.stderr


def test_missing_workload_and_context_are_reported(
    kube_cluster: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    target = kubernetes_target(kube_cluster, namespace)
    missing = write_scenario(
        tmp_path, target, [{**SCALE_DOWN, "workload": "statefulset/nope"}], name="missing-workload"
    )
    result = run_mlchaos("plan", str(missing))
    assert result.returncode == 2
    assert f"statefulset/nope in namespace {namespace}" in result.stderr and "not found" in result.stderr

    no_context = write_scenario(tmp_path, {**target, "context": "other"}, [KILL_HALF], name="no-context")
    result = run_mlchaos("plan", str(no_context))
    assert result.returncode == 2
    assert "no context 'other'" in result.stderr and "mlchaos-test" in result.stderr


def test_readiness_mttr_is_the_start_of_the_first_ready_window() -> None:
    # ready until the kill at t=10, 2/4 ready until 12.5, ready again from 13 on (one flap at 14 resets the streak)
    rows = [(10.0 + 0.5 * i, ok) for i, ok in enumerate([False] * 6 + [True] * 2 + [False] + [True] * 8)]
    probes = pd.DataFrame(
        {"ts": [t for t, _ in rows], "check": "workload:deployment/primary", "ok": [o for _, o in rows]}
    )

    assert first_ready_window(probes, "workload:deployment/primary", 10.0, 30.0, window=1.0) == 14.5
    assert first_ready_window(probes, "workload:deployment/primary", 10.0, 30.0, window=5.0) is None
    assert first_ready_window(probes, "workload:deployment/other", 10.0, 30.0, window=1.0) is None
