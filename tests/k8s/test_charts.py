"""The Helm charts: they lint, render what a user relies on (a monthly CronJob that never overlaps, least-privilege
RBAC), reject bad values with a message naming the field, are accepted by a real API server (server-side apply,
dry run), and the ServiceAccount they install can do exactly what the faults need — nothing more, nowhere else."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml
from k8s_cluster import REPO, KubeCluster
from kubernetes import client as k8s
from kubernetes import dynamic

from mlchaos.experiments.cli import app as cli_app
from mlchaos.experiments.load.spec import parse_host_port
from mlchaos.experiments.loader import load_scenario, load_target
from mlchaos.experiments.suite import load_suite
from mlchaos.staging.config import StackConfig
from mlchaos.staging.endpoints import PROXIES

CHARTS = REPO / "charts"
OPTIONS = {
    "mlchaos": {
        "targetNamespace": "ml-staging",
        "schedule": {"cron": "30 2 * * 0", "timeZone": "Europe/Berlin", "suspend": True},
        "reports": {"persistence": {"enabled": True, "size": "5Gi", "storageClassName": "standard"}},
        "target": {
            "kind": "kubernetes",
            "in_cluster": True,
            "namespace": "ml-staging",
            "allowed_namespaces": ["ml-staging", "ml-staging-2"],
            "service_url": "http://ml-staging-gateway.ml-staging.svc.cluster.local:8000",
        },
        "serviceAccount": {"annotations": {"example.com/owner": "ml-platform"}},
        "loadWorkers": {"enabled": True, "replicas": 3, "port": 6000},
        "indexServer": {"enabled": True, "port": 9090, "service": {"type": "ClusterIP", "port": 80}},
        "telemetry": {
            "otel": {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.monitoring:4318"},
            "otelHeadersSecret": "otlp-headers",
            "grafana": {"url": "http://grafana.monitoring:3000", "tokenSecret": "grafana-token"},
        },
        "publish": {
            "webhook": {"secretName": "webhook", "key": "slack-url", "when": "regression", "format": "slack"},
            "pushgatewayUrl": "http://prometheus-pushgateway.monitoring:9091",
        },
    },
    "ml-staging": {
        "primary": {"replicas": 3, "port": 9000},
        "stackOptions": {"primary_timeout_ms": 200, "breaker": {"failure_threshold": 3}},
    },
}


REQUIRED = {"mlchaos": ("--set", "target.cluster_name=kwok-staging"), "ml-staging": ()}
"""Values a chart has no default for (it refuses to render without them)."""


def helm(cluster: KubeCluster, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    home = cluster.workdir / "helm"
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    result = subprocess.run(
        [str(cluster.binaries.helm), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def options_file(tmp_path: Path, chart: str) -> Path:
    path = tmp_path / f"{chart}-options.yaml"
    path.write_text(yaml.safe_dump(OPTIONS[chart]))
    return path


def render(cluster: KubeCluster, chart: str, *args: str, namespace: str = "chaos") -> list[dict[str, Any]]:
    out = helm(cluster, "template", "ml-staging" if chart == "ml-staging" else "chaos", str(CHARTS / chart),
               "--namespace", namespace, *REQUIRED[chart], *args).stdout  # fmt: skip
    return [doc for doc in yaml.safe_load_all(out) if doc]


def one(docs: list[dict[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, (
        f"expected one {kind} *{name_suffix}, got {[d['metadata']['name'] for d in found]}"
    )
    return found[0]


@pytest.mark.parametrize("chart", ["mlchaos", "ml-staging"])
@pytest.mark.parametrize("values", ["defaults", "options"])
def test_chart_lints(kube_cluster: KubeCluster, tmp_path: Path, chart: str, values: str) -> None:
    extra = ["--values", str(options_file(tmp_path, chart))] if values == "options" else []
    result = helm(kube_cluster, "lint", "--strict", str(CHARTS / chart), *REQUIRED[chart], *extra)
    assert "0 chart(s) failed" in result.stdout


def test_cronjob_runs_the_suite_monthly_and_never_overlaps(kube_cluster: KubeCluster) -> None:
    docs = render(kube_cluster, "mlchaos")
    cron = one(docs, "CronJob")["spec"]
    assert cron["schedule"] == "0 3 1 * *"
    assert cron["concurrencyPolicy"] == "Forbid"
    assert cron["suspend"] is False
    assert (cron["successfulJobsHistoryLimit"], cron["failedJobsHistoryLimit"]) == (3, 3)
    pod = cron["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"] == ["suite", "/etc/mlchaos/suite.yaml", "--out", "/reports"]
    assert {"name": "reports", "persistentVolumeClaim": {"claimName": "chaos-mlchaos-reports"}} in pod[
        "volumes"
    ]
    suite = one(docs, "ConfigMap", "-suite")["data"]
    assert yaml.safe_load(suite["suite.yaml"])["scenarios"] == ["primary-pod-kill.yaml"]
    target = yaml.safe_load(suite["target.yaml"])
    assert (target["namespace"], target["allowed_namespaces"]) == ("chaos", ["chaos"]), (
        "defaults to the release namespace"
    )


@pytest.mark.parametrize("values", ["defaults", "options"])
def test_the_suite_the_cronjob_runs_is_valid_for_mlchaos(
    kube_cluster: KubeCluster, tmp_path: Path, values: str
) -> None:
    """What the ConfigMap mounts at /etc/mlchaos is exactly what `mlchaos suite` reads: it must validate."""
    extra = ["--values", str(options_file(tmp_path, "mlchaos"))] if values == "options" else []
    files = one(render(kube_cluster, "mlchaos", *extra), "ConfigMap", "-suite")["data"]
    mounted = tmp_path / "etc-mlchaos"
    mounted.mkdir()
    for name, content in files.items():
        (mounted / name).write_text(content, encoding="utf-8")
    suite = load_suite(mounted / "suite.yaml")
    assert suite.target is not None
    target, problems = load_target(suite.target)
    assert not problems, "\n".join(map(str, problems))
    assert target is not None and target.kind == "kubernetes"
    if values == "defaults":  # the ml-staging release's toxiproxy, with the proxies that chart creates in it
        assert target.toxiproxy_url == "http://ml-staging-toxiproxy.chaos.svc:8474"
        assert target.proxies == PROXIES
    for path in suite.scenarios:
        load_scenario(path)  # raises ScenarioInvalid with every problem, file and line


def test_index_server_serves_the_reports_volume_read_only_without_api_access(
    kube_cluster: KubeCluster, tmp_path: Path
) -> None:
    assert not [d for d in render(kube_cluster, "mlchaos") if d["metadata"]["name"].endswith("-index")]  # off
    docs = render(kube_cluster, "mlchaos", "--values", str(options_file(tmp_path, "mlchaos")))
    pod = one(docs, "Deployment", "-index")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["automountServiceAccountToken"] is False and "serviceAccountName" not in pod
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    suite_pod = one(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert container["image"] == suite_pod["containers"][0]["image"]  # the same image
    assert {"name": "reports", "mountPath": "/reports", "readOnly": True} in container["volumeMounts"]
    claim = {"claimName": "chaos-mlchaos-reports", "readOnly": True}
    assert {"name": "reports", "persistentVolumeClaim": claim} in pod["volumes"]
    # The arguments are the real command's: typer parses them as `mlchaos serve` would.
    assert container["args"][0] == "serve"
    serve = typer.main.get_command(cli_app).commands["serve"]  # type: ignore[attr-defined]
    params = serve.make_context("serve", list(container["args"][1:])).params
    assert params == {"directory": Path("/reports"), "port": 9090, "bind": "0.0.0.0", "token": False}
    service = one(docs, "Service", "-index")["spec"]
    assert service["ports"] == [{"name": "http", "port": 80, "targetPort": "http"}]
    assert service["selector"]["app.kubernetes.io/component"] == "index"
    refused = helm(kube_cluster, "template", "x", str(CHARTS / "mlchaos"), *REQUIRED["mlchaos"],
                   "--set", "indexServer.enabled=true", "--set", "reports.persistence.enabled=false",
                   check=False)  # fmt: skip
    assert refused.returncode != 0 and "needs reports.persistence.enabled" in refused.stderr


def test_options_render_as_asked(kube_cluster: KubeCluster, tmp_path: Path) -> None:
    docs = render(kube_cluster, "mlchaos", "--values", str(options_file(tmp_path, "mlchaos")))
    cron = one(docs, "CronJob")["spec"]
    assert (cron["schedule"], cron["timeZone"], cron["suspend"]) == ("30 2 * * 0", "Europe/Berlin", True)
    # The Role lands in the target namespace and binds the ServiceAccount of the release namespace.
    assert one(docs, "Role")["metadata"]["namespace"] == "ml-staging"
    binding = one(docs, "RoleBinding")
    assert binding["metadata"]["namespace"] == "ml-staging"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "chaos-mlchaos", "namespace": "chaos"}]
    target = yaml.safe_load(one(docs, "ConfigMap", "-suite")["data"]["target.yaml"])
    assert target["allowed_namespaces"] == ["ml-staging", "ml-staging-2"]
    assert one(docs, "PersistentVolumeClaim")["spec"]["storageClassName"] == "standard"
    # Telemetry: OTEL_* as given, the OTLP headers from their Secret, Grafana's token as a read-only file.
    pod = cron["jobTemplate"]["spec"]["template"]["spec"]
    [suite] = pod["containers"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in suite["env"]}
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.monitoring:4318"
    assert env["OTEL_EXPORTER_OTLP_HEADERS"] == {"secretKeyRef": {"name": "otlp-headers", "key": "headers"}}
    assert env["MLCHAOS_GRAFANA_URL"] == "http://grafana.monitoring:3000"
    assert env["MLCHAOS_GRAFANA_TOKEN_FILE"] == "/etc/mlchaos-grafana/token"
    mount = {"name": "grafana-token", "mountPath": "/etc/mlchaos-grafana", "readOnly": True}
    assert mount in suite["volumeMounts"]
    assert {"name": "grafana-token", "secret": {"secretName": "grafana-token", "items": [
        {"key": "token", "path": "token"}]}} in pod["volumes"]  # fmt: skip
    # Publishing: the webhook URL as a read-only file from its Secret (never an environment value), the
    # Pushgateway's URL as given.
    assert env["MLCHAOS_WEBHOOK_URL_FILE"] == "/etc/mlchaos-webhook/url"
    assert env["MLCHAOS_WEBHOOK_WHEN"] == "regression"
    assert env["MLCHAOS_PUSHGATEWAY_URL"] == "http://prometheus-pushgateway.monitoring:9091"
    assert "MLCHAOS_WEBHOOK_URL" not in env
    webhook_mount = {"name": "webhook-url", "mountPath": "/etc/mlchaos-webhook", "readOnly": True}
    assert webhook_mount in suite["volumeMounts"]
    assert {"name": "webhook-url", "secret": {"secretName": "webhook", "items": [
        {"key": "slack-url", "path": "url"}]}} in pod["volumes"]  # fmt: skip


def test_images_loaded_into_the_nodes_are_never_pulled(kube_cluster: KubeCluster) -> None:
    """Images imported into the nodes (`ctr images import`, `kind load`) rather than pulled, as tests/realnode
    does: pullPolicy Never reaches every container of both charts, redis and toxiproxy images as given."""
    local = ("--set", "image.pullPolicy=Never")
    staging = render(kube_cluster, "ml-staging", *local, "--set", "redisImage=localhost/redis:1",
                     "--set", "toxiproxyImage=localhost/toxiproxy:1")  # fmt: skip
    chaos = render(kube_cluster, "mlchaos", *local, "--set", "loadWorkers.enabled=true",
                   "--set", "indexServer.enabled=true")  # fmt: skip
    pods = [d["spec"]["template"]["spec"] for d in staging + chaos if d["kind"] == "Deployment"]
    pods += [one(chaos, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]]
    containers = [c for pod in pods for c in [*pod.get("initContainers", []), *pod["containers"]]]
    # the gateway (its init container, toxiproxy), primary (expose), redis; the suite, a worker, the index server
    assert len(containers) == 9, [c["name"] for c in containers]
    assert {c["imagePullPolicy"] for c in containers} == {"Never"}
    assert {"localhost/redis:1", "localhost/toxiproxy:1"} <= {c["image"] for c in containers}


def test_load_worker_pods_reach_the_suite_pods_locust_master(
    kube_cluster: KubeCluster, tmp_path: Path
) -> None:
    """The pieces of distributed load must meet: each worker pod's `mlchaos load-worker HOST:PORT` names the
    Service, the Service selects the suite pod (and only it) on the port its master listens on (--worker-bind
    through MLCHAOS_WORKER_BIND)."""
    docs = render(kube_cluster, "mlchaos", "--values", str(options_file(tmp_path, "mlchaos")))
    workers = one(docs, "Deployment", "-load-worker")
    assert workers["spec"]["replicas"] == 3
    worker_pod = workers["spec"]["template"]
    assert worker_pod["spec"]["automountServiceAccountToken"] is False, "workers need no API access"
    command, master = worker_pod["spec"]["containers"][0]["args"]
    assert command == "load-worker"
    host, port = parse_host_port(master)

    service = one(docs, "Service", "-load-master")
    assert (
        (host, port)
        == (service["metadata"]["name"], service["spec"]["ports"][0]["port"])
        == (
            "chaos-mlchaos-load-master",
            6000,
        )
    )
    suite_pod = one(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]
    selector = service["spec"]["selector"].items()
    assert selector <= suite_pod["metadata"]["labels"].items()
    assert not selector <= worker_pod["metadata"]["labels"].items()
    container = suite_pod["spec"]["containers"][0]
    bind = {e["name"]: e.get("value") for e in container["env"]}["MLCHAOS_WORKER_BIND"]
    assert parse_host_port(bind) == ("0.0.0.0", 6000)
    assert container["ports"] == [{"name": "locust-master", "containerPort": 6000}]
    assert service["spec"]["ports"][0]["targetPort"] == "locust-master"

    # Both sides read the same load secret from the chart's Secret; only worker pods may reach the master's port.
    def secret_ref(env: list[dict[str, Any]]) -> Any:
        return {e["name"]: e.get("valueFrom") for e in env}["MLCHAOS_LOAD_SECRET"]["secretKeyRef"]

    worker_env = worker_pod["spec"]["containers"][0]["env"]
    secret = one(docs, "Secret", "-load-secret")
    expected = {"name": secret["metadata"]["name"], "key": "secret"}
    assert secret_ref(container["env"]) == secret_ref(worker_env) == expected
    assert len(base64.b64decode(secret["data"]["secret"])) >= 16
    hosts = {e["name"]: e.get("value") for e in worker_env}["MLCHAOS_LOAD_ALLOW_HOSTS"].split(",")
    target = yaml.safe_load(one(docs, "ConfigMap", "-suite")["data"]["target.yaml"])
    assert urlsplit(target["service_url"]).hostname in hosts, "workers may reach the suite's target"
    policy = one(docs, "NetworkPolicy", "-load-master")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= suite_pod["metadata"]["labels"].items()
    assert not policy["podSelector"]["matchLabels"].items() <= worker_pod["metadata"]["labels"].items()
    (rule,) = policy["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 6000}]
    (peer,) = rule["from"]
    assert peer["podSelector"]["matchLabels"].items() <= worker_pod["metadata"]["labels"].items()
    assert not peer["podSelector"]["matchLabels"].items() <= suite_pod["metadata"]["labels"].items()

    default = render(kube_cluster, "mlchaos")
    assert not [d for d in default if d["metadata"]["name"].endswith(("-load-worker", "-load-master"))]
    default_env = one(default, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0][
        "env"
    ]
    assert "MLCHAOS_WORKER_BIND" not in {e["name"] for e in default_env}, "off by default: local workers"


def test_reference_stack_wiring_is_what_its_programs_read(kube_cluster: KubeCluster, tmp_path: Path) -> None:
    docs = render(kube_cluster, "ml-staging", "--values", str(options_file(tmp_path, "ml-staging")))
    config = one(docs, "ConfigMap", "-config")["data"]
    stack = StackConfig.model_validate_json(config["stack.json"])
    assert stack.options.primary_timeout_ms == 200
    assert stack.options.breaker.failure_threshold == 3
    proxies = {p["name"]: p for p in yaml.safe_load(config["gateway-proxies.json"])}
    # Every dependency the gateway calls goes through a proxy on the loopback port stack.json tells it.
    for dependency, proxy in PROXIES.items():
        assert proxies[proxy]["listen"] == f"127.0.0.1:{stack.proxy_port(dependency)}"
    assert proxies["primary_model"]["upstream"] == "ml-staging-primary:9000"
    assert proxies["ingress"]["upstream"] == f"127.0.0.1:{stack.gateway_port}"
    primary = one(docs, "Deployment", "-primary")
    assert primary["spec"]["replicas"] == 3
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "Service"} == {
        "ml-staging-gateway", "ml-staging-primary", "ml-staging-redis", "ml-staging-toxiproxy",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("chart", "bad", "field"),
    [
        ("mlchaos", "targetNamespace=Not_A_Name", "targetNamespace"),
        ("mlchaos", "schedule.cron=monthly", "cron"),
        ("mlchaos", "schedule.suspend=maybe", "suspend"),
        ("mlchaos", "concurrencyPolicy=Allow", "concurrencyPolicy"),
        ("mlchaos", "loadWorkers.port=80", "port"),
        ("mlchaos", "loadWorkers.replicas=0", "replicas"),
        ("mlchaos", "indexServer.port=80", "port"),
        ("mlchaos", "telemetry.otel.OTEL_EXPORTER_OTLP_HEADERS=x", "OTEL_EXPORTER_OTLP_HEADERS"),
        ("mlchaos", "telemetry.otel.NOT_OTEL=1", "NOT_OTEL"),
        ("mlchaos", "publish.webhook.when=sometimes", "when"),
        ("mlchaos", "publish.pushgatewayUrl=pushgateway:9091", "pushgatewayUrl"),
        ("ml-staging", "gateway.replicas=2", "replicas"),
        ("ml-staging", "primary.port=80", "port"),
    ],
)
def test_schema_rejects_bad_values(kube_cluster: KubeCluster, chart: str, bad: str, field: str) -> None:
    result = helm(kube_cluster, "template", "x", str(CHARTS / chart), "--set", bad, check=False)
    assert result.returncode != 0, f"--set {bad} was accepted"
    assert "values don't meet the specifications of the schema" in result.stderr
    assert field in result.stderr


@pytest.mark.parametrize("chart", ["mlchaos", "ml-staging"])
@pytest.mark.parametrize("values", ["defaults", "options"])
def test_api_server_accepts_rendered_manifests(
    kube_cluster: KubeCluster, namespace: str, tmp_path: Path, chart: str, values: str
) -> None:
    extra = ["--values", str(options_file(tmp_path, chart))] if values == "options" else []
    if chart == "mlchaos":
        extra += ["--set", f"targetNamespace={namespace}"]
    docs = render(kube_cluster, chart, *extra, namespace=namespace)
    api = dynamic.DynamicClient(kube_cluster.api)
    for doc in docs:
        resource = api.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        # Server-side apply, dry run: the API server validates and defaults every object, stores nothing.
        applied = api.server_side_apply(
            resource, body=doc, namespace=namespace, field_manager="mlchaos-tests", dry_run="All"
        )
        assert applied.metadata.name == doc["metadata"]["name"]
    stored = k8s.CoreV1Api(kube_cluster.api).list_namespaced_config_map(namespace).items
    assert [c.metadata.name for c in stored] == ["kube-root-ca.crt"], "a dry run stores nothing"


def can(
    cluster: KubeCluster, user: str, verb: str, resource: str, namespace: str, subresource: str = ""
) -> bool:
    group = "apps" if resource in {"deployments", "statefulsets"} else ""
    service_account_ns = user.split(":")[2]
    review = k8s.V1SubjectAccessReview(
        spec=k8s.V1SubjectAccessReviewSpec(
            user=user,
            groups=[
                "system:serviceaccounts",
                f"system:serviceaccounts:{service_account_ns}",
                "system:authenticated",
            ],
            resource_attributes=k8s.V1ResourceAttributes(
                namespace=namespace, verb=verb, group=group, resource=resource, subresource=subresource
            ),
        )
    )
    result = k8s.AuthorizationV1Api(cluster.api).create_subject_access_review(review)
    return bool(result.status.allowed)


def test_service_account_may_do_exactly_what_the_faults_need(
    kube_cluster: KubeCluster, namespace: str
) -> None:
    chart = str(CHARTS / "mlchaos")
    helm(kube_cluster, "install", "chaos", chart, "--namespace", namespace, *REQUIRED["mlchaos"])
    user = f"system:serviceaccount:{namespace}:chaos-mlchaos"
    k8s.CoreV1Api(kube_cluster.api).read_namespaced_service_account("chaos-mlchaos", namespace)

    allowed = [
        *[("pods", "", verb) for verb in ("get", "list", "watch", "delete")],
        # patch: scale_outage's restore-replicas annotation (what a killed run leaves for the next one)
        *[(kind, "", verb) for kind in ("deployments", "statefulsets") for verb in ("get", "patch")],
        *[(kind, "scale", verb) for kind in ("deployments", "statefulsets") for verb in ("get", "patch")],
    ]
    denied = [
        *[("pods", "", verb) for verb in ("create", "update", "patch", "deletecollection")],
        ("pods", "exec", "create"),
        ("pods", "eviction", "create"),
        *[
            (kind, "", verb)
            for kind in ("deployments", "statefulsets")
            for verb in ("create", "update", "delete")
        ],
        *[("secrets", "", verb) for verb in ("get", "list", "watch")],
        ("configmaps", "", "update"),
        ("services", "", "delete"),
    ]
    assert [a for a in allowed if not can(kube_cluster, user, a[2], a[0], namespace, a[1])] == []
    assert [d for d in denied if can(kube_cluster, user, d[2], d[0], namespace, d[1])] == []
    # Nowhere else: not in another namespace, not cluster-wide.
    for elsewhere in ("default", "kube-system", ""):
        assert not can(kube_cluster, user, "delete", "pods", elsewhere)
        assert not can(kube_cluster, user, "list", "pods", elsewhere)
    assert not can(kube_cluster, user, "get", "secrets", "kube-system")


def test_service_account_token_is_refused_outside_its_grant(
    kube_cluster: KubeCluster, namespace: str
) -> None:
    """The same proof with real requests: a token of the chart's ServiceAccount against the API server."""
    chart = str(CHARTS / "mlchaos")
    helm(kube_cluster, "install", "chaos", chart, "--namespace", namespace, *REQUIRED["mlchaos"])
    admin = k8s.CoreV1Api(kube_cluster.api)
    token = admin.create_namespaced_service_account_token(
        "chaos-mlchaos",
        namespace,
        k8s.AuthenticationV1TokenRequest(spec=k8s.V1TokenRequestSpec(audiences=[])),
    ).status.token
    configuration = k8s.Configuration()
    configuration.host = kube_cluster.server
    configuration.ssl_ca_cert = kube_cluster.api.configuration.ssl_ca_cert
    configuration.api_key = {"authorization": f"Bearer {token}"}
    as_chart = k8s.CoreV1Api(k8s.ApiClient(configuration))

    assert as_chart.list_namespaced_pod(namespace).items == []
    refused = [
        lambda: as_chart.delete_namespaced_pod("anything", "default"),
        lambda: as_chart.list_namespaced_pod("default"),
        lambda: as_chart.list_namespaced_secret(namespace),
        lambda: as_chart.read_namespaced_config_map("kube-root-ca.crt", namespace),
    ]
    for attempt in refused:
        with pytest.raises(k8s.ApiException) as error:
            attempt()
        assert error.value.status == 403
