"""Guards with gaps, as they were tried: a `*.svc` name in a production namespace, a host name that starts like
loopback, an in-cluster run that no guard looked at, and a chart installable without saying which cluster it is in.
Each is now refused at validation — at the line that names it, before anything is contacted — or at `helm
template`. No cluster is needed: the target files and the chart are only validated and rendered."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import k8s_cluster
import pytest
import yaml

from mlchaos.experiments.kubernetes.guard import Refused
from mlchaos.experiments.loader import load_target
from mlchaos.experiments.session import kubernetes_endpoints
from mlchaos.experiments.targets import KubernetesTarget
from mlchaos.experiments.yaml_problems import Problem

IN_CLUSTER: dict[str, Any] = {
    "kind": "kubernetes",
    "in_cluster": True,
    "cluster_name": "staging-eu",
    "namespace": "payments",
    "allowed_namespaces": ["payments", "prod-payments"],
    "service_url": "http://gateway.payments.svc:8000",
}


def problems(tmp_path: Path, target: dict[str, Any], *, allow_production: bool = False) -> list[Problem]:
    path = tmp_path / "target.yaml"
    path.write_text(yaml.safe_dump(target, sort_keys=False), encoding="utf-8")
    loaded, found = load_target(path, allow_production=allow_production)
    assert (loaded is None) == bool(found)
    return found


def line_of(tmp_path: Path, key: str) -> str:
    """``:LINE:`` of ``key`` in the target file last written, as a problem shows it."""
    lines = (tmp_path / "target.yaml").read_text(encoding="utf-8").splitlines()
    return f":{next(n for n, line in enumerate(lines, 1) if line.lstrip().startswith(key + ':'))}:"


def only(found: list[Problem]) -> str:
    assert len(found) == 1, [str(p) for p in found]
    return str(found[0])


def test_a_service_in_an_allowed_production_namespace_is_refused(tmp_path: Path) -> None:
    """The attack: `toxiproxy.prod-payments.svc` validated because it ended in `.svc`. Allowlisting the namespace
    is not enough: its name says production, and only `allow_production` lets a target use it."""
    target = {**IN_CLUSTER, "toxiproxy_url": "http://toxiproxy.prod-payments.svc:8474"}

    refused = only(problems(tmp_path, target))

    assert line_of(tmp_path, "toxiproxy_url") in refused, f"at the line that names it: {refused}"
    assert "toxiproxy.prod-payments.svc" in refused and "looks like production ('prod'" in refused
    assert problems(tmp_path, target, allow_production=True) == []
    assert problems(tmp_path, {**target, "allow_production": True}) == []


@pytest.mark.parametrize(
    ("field", "url", "why"),
    [
        (
            "service_url",
            "http://gateway.billing.svc:8000",
            "namespace 'billing', which is not in allowed_namespaces",
        ),
        ("service_url", "http://live-gateway.payments.svc.cluster.local", "looks like production ('live'"),
        ("toxiproxy_url", "http://toxiproxy.prod-payments:8474", "not in allowed_hosts"),
    ],
    ids=["namespace-not-allowed", "production-service-name", "namespace-relative-name"],
)
def test_every_service_name_is_held_to_the_namespaces_and_the_production_rule(
    tmp_path: Path, field: str, url: str, why: str
) -> None:
    refused = only(problems(tmp_path, {**IN_CLUSTER, field: url}))
    assert field in refused and why in refused


def test_the_production_rule_reads_the_prometheus_url_too(tmp_path: Path) -> None:
    namespaces = [*IN_CLUSTER["allowed_namespaces"], "prd-monitoring"]
    prometheus = {"prometheus_url": "http://prometheus.prd-monitoring.svc:9090"}
    refused = only(
        problems(tmp_path, {**IN_CLUSTER, "allowed_namespaces": namespaces, "signals": prometheus})
    )
    assert "prometheus_url" in refused and "looks like production ('prd'" in refused


@pytest.mark.parametrize(
    "url",
    ["http://127.attacker.example:8080", "http://localhost.attacker.example", "http://127.0.0.1.nip.io"],
)
def test_a_host_name_that_starts_like_loopback_is_not_loopback(tmp_path: Path, url: str) -> None:
    """The attack: a prefix check let `127.attacker.example` through as loopback — a name any DNS owner points
    anywhere. Hosts are parsed: only addresses in 127.0.0.0/8 and ::1, and the name `localhost`, are loopback."""
    target = {"kind": "external", "service_url": url}
    refused = only(problems(tmp_path, target))
    assert "service_url" in refused and "is not in allowed_hosts (empty: only loopback)" in refused
    assert problems(tmp_path, {**target, "service_url": "http://127.0.0.2:8080"}) == []


def test_an_in_cluster_target_must_say_which_cluster_it_is_in(tmp_path: Path) -> None:
    """The attack: in a pod the context is always `in-cluster`, so the production guard read nothing and the
    CronJob was never guarded. An in-cluster target must now name its cluster; the rule reads that name."""
    nameless = {key: value for key, value in IN_CLUSTER.items() if key != "cluster_name"}

    refused = only(problems(tmp_path, nameless))

    assert "cluster_name" in refused and "in_cluster needs cluster_name" in refused
    assert problems(tmp_path, IN_CLUSTER) == []


@pytest.mark.parametrize("name", ["gke_acme_europe-west1_prod-eu", "payments-live", "prd"])
def test_a_production_cluster_name_is_refused(tmp_path: Path, name: str) -> None:
    refused = only(problems(tmp_path, {**IN_CLUSTER, "cluster_name": name}))
    assert (
        line_of(tmp_path, "cluster_name") in refused and f"cluster '{name}' looks like production" in refused
    )
    assert problems(tmp_path, {**IN_CLUSTER, "cluster_name": name}, allow_production=True) == []


def test_the_runtime_guard_reads_the_cluster_name_before_contacting_anything(tmp_path: Path) -> None:
    """The second line of defence, for a target built without the loader (a cluster name that validation let
    through with allow_production, then dropped): the guard that runs before the first call names the cluster.
    A kubeconfig whose server is nowhere proves nothing is contacted before the refusal."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "x"}}],
                "contexts": [{"name": "staging", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "staging",
            }
        )
    )
    allowed = {**IN_CLUSTER, "in_cluster": False, "kubeconfig": str(kubeconfig), "allow_production": True}
    target = KubernetesTarget.model_validate({**allowed, "cluster_name": "fraud-prd"}).model_copy(
        update={"allow_production": False}
    )
    with pytest.raises(Refused, match="cluster name 'fraud-prd' contains 'prd'"):
        kubernetes_endpoints(target)


def helm_template(*values: str) -> subprocess.CompletedProcess[str]:
    helm = k8s_cluster.TestenvBinaries.locate().helm
    return subprocess.run(
        [str(helm), "template", "chaos", str(k8s_cluster.REPO / "charts" / "mlchaos"), *values],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_chart_does_not_render_without_its_cluster_name() -> None:
    """The CronJob runs in the cluster: without a declared name nothing would guard it, so there is no default."""
    nameless = helm_template()
    assert nameless.returncode != 0
    assert "target.cluster_name is required" in nameless.stderr

    named = helm_template("--set", "target.cluster_name=staging-eu")
    assert named.returncode == 0, named.stderr
    docs = [doc for doc in yaml.safe_load_all(named.stdout) if doc]
    suite = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-suite"))
    target = yaml.safe_load(suite["data"]["target.yaml"])
    assert (target["in_cluster"], target["cluster_name"]) == (True, "staging-eu"), (
        "the target the guard reads"
    )
