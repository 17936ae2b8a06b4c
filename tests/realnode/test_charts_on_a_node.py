"""The charts on a real node: `helm install` ml-staging and mlchaos, the gateway answering through its Service, the
monthly CronJob's suite run in the cluster (`kubectl create job --from=cronjob/...`) and its reports read back
from the reports volume and judged — then a broken stack (the fallback model disabled through the chart's
values) comes back red, naming the verifier.

Everything here really runs: containers from the images of images.py on containerd + runc, Service DNS through
CoreDNS, Service IPs through kube-proxy, the in-cluster toxiproxy, pods really deleted and recreated by their
ReplicaSet, load sent by the chart's load-worker pod. The suite (tests/realnode/suite/) is test copies of
catalogue scenarios with short phases; its healthy run takes under two minutes (the module ~3 min, warm).

The node has no storage provisioner, so the test gives the reports claim a hostPath PersistentVolume (what a
bare cluster's admin would do) and reads the reports from that directory: the files the suite pod wrote.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from images import NodeImages
from kube_tools import REPO, Kube

from mlchaos.experiments.journal import Event, read_journal
from mlchaos.staging.declaration import DECLARATION

# The node, two installs and two suites (~3 min warm); each wait is bounded, this only stops a hang.
pytestmark = pytest.mark.timeout(1500)

HERE = Path(__file__).resolve().parent
CHARTS = REPO / "charts"
STAGING, CHAOS = "ml-staging", "chaos"
"""Release names; the mlchaos chart's defaults point at a stack released as `ml-staging`."""
CRONJOB = "chaos-mlchaos"
PRIMARY = "ml-staging-primary"
SUITE_UID = 10001
"""The charts' pods run as this user: the reports directory must be theirs."""
INSTALL_TIMEOUT = "300s"
SUITE_TIMEOUT_S = 420.0


def scenario_files(*names: str) -> list[str]:
    """--set-file arguments giving the chart the suite's scenarios, as docs/kubernetes.md shows a user."""
    escaped = {name: name.replace(".", "\\.") for name in names}  # a dot in a --set key separates levels
    return [f"--set-file=scenarios.{escaped[name]}={HERE / 'suite' / name}" for name in names]


SCENARIOS = ("feature-store-outage.yaml", "pod-kill.yaml", "scale-outage.yaml")


def image_values(images: NodeImages) -> list[str]:
    return [f"--set=image.repository={images.mlchaos.repository}", f"--set=image.tag={images.mlchaos.tag}"]


@dataclass(frozen=True)
class Installed:
    kube: Kube
    reports: Path
    """The reports PersistentVolume's directory on the node."""
    mlchaos_values: list[str]
    staging_values: list[str]


@pytest.fixture(scope="module")
def installed(kube: Kube, node_images: NodeImages, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    reports = tmp_path_factory.mktemp("reports")
    os.chown(reports, SUITE_UID, SUITE_UID)
    kube.kubectl("apply", "-f", "-", stdin=json.dumps(reports_volume(reports, kube.namespace)))
    staging_values = [
        f"--values={HERE / 'values' / 'ml-staging.yaml'}",
        *image_values(node_images),
        f"--set=redisImage={node_images.redis.reference}",
        f"--set=toxiproxyImage={node_images.toxiproxy.reference}",
    ]
    kube.helm(
        "install",
        STAGING,
        str(CHARTS / "ml-staging"),
        *staging_values,
        "--wait",
        f"--timeout={INSTALL_TIMEOUT}",
    )
    # The reference gateway's declaration (where its answers name their tier, its breaker metrics), as a team
    # declares its own service in the target; the rest of the target the chart fills in from `staging.release`.
    declaration = tmp_path_factory.mktemp("values") / "declaration.yaml"
    declaration.write_text(
        yaml.safe_dump({"target": {"response": DECLARATION["response"], "signals": DECLARATION["signals"]}}),
        encoding="utf-8",
    )
    mlchaos_values = [
        f"--values={HERE / 'values' / 'mlchaos.yaml'}",
        f"--values={declaration}",
        *image_values(node_images),
    ]
    kube.helm("install", CHAOS, str(CHARTS / "mlchaos"), *mlchaos_values, *scenario_files(*SCENARIOS),
              "--wait", f"--timeout={INSTALL_TIMEOUT}")  # fmt: skip
    return Installed(kube, reports, mlchaos_values, staging_values)


def reports_volume(directory: Path, namespace: str) -> dict[str, Any]:
    """A hostPath volume bound in advance to the chart's reports claim (<release>-mlchaos-reports)."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "realnode-reports"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "hostPath": {"path": str(directory), "type": "Directory"},
            "claimRef": {"namespace": namespace, "name": f"{CRONJOB}-reports"},
        },
    }


# --- what the cluster says ---------------------------------------------------------------------------------------


def in_pod(kube: Kube, where: str, script: str) -> Any:
    """Run a Python snippet in a container (`deploy/NAME -c CONTAINER`) and return the JSON it prints."""
    out = kube.kubectl("exec", *where.split(), "--", "python", "-c", script, timeout_s=60)
    return json.loads(out)


PREDICT = """
import json, urllib.request
body = json.dumps({"entity_id": "u0042", "amount": 42.0, "merchant_risk": 0.2}).encode()
request = urllib.request.Request("http://%s-gateway.%s.svc:8000/predict", body, {"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=10) as answer:
    print(json.dumps({"status": answer.status, "body": json.load(answer)}))
"""

PROXIES = """
import json, urllib.request
with urllib.request.urlopen("http://127.0.0.1:8474/proxies", timeout=10) as answer:
    print(json.dumps(json.load(answer)))
"""


def ready_pods(kube: Kube, selector: str) -> dict[str, str]:
    """UID -> name of the pods matching `selector` that are Ready and not being deleted."""
    return {
        pod["metadata"]["uid"]: pod["metadata"]["name"]
        for pod in kube.json("get", "pods", "-l", selector)["items"]
        if "deletionTimestamp" not in pod["metadata"]
        and any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))
    }


# --- what the suite left on the volume ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteResult:
    directory: Path
    summary: dict[str, Any]
    logs: str

    def run(self, scenario: str) -> tuple[Path, dict[str, Any]]:
        [entry] = [r for r in self.summary["runs"] if r["scenario"] == scenario]
        run_dir = self.directory / entry["run_dir"]
        return run_dir, json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))

    def junit_failures(self) -> list[str]:
        root = ET.parse(self.directory / "junit.xml").getroot()
        return [
            str(case.get("name"))
            for case in root.iter("testcase")
            if case.find("failure") is not None or case.find("error") is not None
        ]


def run_suite(installed: Installed, job: str) -> tuple[bool, SuiteResult]:
    """Run the CronJob's suite now and read what it wrote to the reports volume."""
    before = set(installed.reports.iterdir())
    completed = installed.kube.run_job(CRONJOB, job, SUITE_TIMEOUT_S)
    logs = installed.kube.logs(f"job/{job}", 300)
    new = [p for p in set(installed.reports.iterdir()) - before if (p / "summary.json").is_file()]
    assert len(new) == 1, (
        f"expected one new suite directory with a summary.json on the volume, got {new}\n{logs}"
    )
    summary = json.loads((new[0] / "summary.json").read_text(encoding="utf-8"))
    assert summary["kind"] == "suite", summary
    return completed, SuiteResult(new[0], summary, logs)


def deleted_uids(run_dir: Path) -> set[str]:
    """The UIDs of the pods the run's journal says it deleted (journalled before the delete)."""
    actions = [
        e.detail or "" for e in read_journal(run_dir / "journal.jsonl") if e.event == Event.FAULT_ACTION
    ]
    return {uid for action in actions for uid in re.findall(r"\(uid ([0-9a-f-]+)\)", action)}


# --- the tests ---------------------------------------------------------------------------------------------------


def test_the_gateway_answers_through_its_service(installed: Installed) -> None:
    """From another pod (the load worker), through the Service's DNS name and kube-proxy, as the suite will."""
    answer = in_pod(
        installed.kube, "deploy/chaos-mlchaos-load-worker", PREDICT % (STAGING, installed.kube.namespace)
    )
    assert answer["status"] == 200, answer
    assert answer["body"]["tier"] == "primary" and "prediction" in answer["body"], answer


def test_the_in_cluster_suite_comes_back_green_from_the_volume(installed: Installed) -> None:
    kube = installed.kube
    before = ready_pods(kube, "app.kubernetes.io/component=primary")
    assert len(before) == 2

    completed, suite = run_suite(installed, "realnode-green")

    failed = [(f["scenario"], f["name"], f.get("measured")) for f in suite.summary.get("failures", [])]
    assert completed and suite.summary["passed"], f"{suite.summary['status']}: {failed}\n{suite.logs}"
    assert [r["scenario"] for r in suite.summary["runs"]] == [
        "feature-store-outage",
        "pod-kill",
        "scale-outage",
    ]
    assert (suite.directory / "report.html").stat().st_size > 10_000
    assert suite.junit_failures() == []
    for entry in suite.summary["runs"]:
        run_dir, run = suite.run(entry["scenario"])
        assert {"report.html", "junit.xml", "summary.json"} <= {p.name for p in run_dir.iterdir()}
        assert run["verdicts"] and all(v["passed"] for v in run["verdicts"]), run["verdicts"]
        assert all(f["reverted_at"] is not None for f in run["faults"]), run["faults"]
        assert run["requests"]["total"] > 0

    # The pod kill: the journal names the pod it deleted; the ReplicaSet replaced it with a new, Ready one.
    gone = deleted_uids(suite.run("pod-kill")[0])
    assert len(gone) == 1 and gone <= set(before), (gone, before)
    after = ready_pods(kube, "app.kubernetes.io/component=primary")
    assert len(after) == 2 and not gone & set(after), f"the deleted pod {gone} was replaced: {after}"

    # The scale outage: the replica count restored, every replica Ready, mlchaos' restore note removed.
    deployment = kube.json("get", "deployment", PRIMARY)
    assert deployment["spec"]["replicas"] == 2 and deployment["status"].get("readyReplicas") == 2
    assert "mlchaos.io/restore-replicas" not in deployment["metadata"].get("annotations", {})

    # The feature-store outage went through the in-cluster toxiproxy, and is gone from it.
    proxies = in_pod(kube, f"deploy/{STAGING}-gateway -c gateway", PROXIES)
    assert {"feature_store", "primary_model", "cache"} <= set(proxies)
    assert all(p["enabled"] and not p["toxics"] for p in proxies.values()), proxies

    # Its load came from the load-worker pod: the suite pod only listens for workers (MLCHAOS_WORKER_BIND), and
    # the worker says it served a load.
    _, outage = suite.run("feature-store-outage")
    assert outage["requests"]["total"] > 100
    worker_logs = kube.logs("deploy/chaos-mlchaos-load-worker", 50)
    assert "load 1: served" in worker_logs, worker_logs


def test_a_stack_without_its_fallback_comes_back_red_naming_the_verifier(installed: Installed) -> None:
    kube = installed.kube
    broken = f"--values={HERE / 'values' / 'ml-staging-broken.yaml'}"
    kube.helm("upgrade", STAGING, str(CHARTS / "ml-staging"), *installed.staging_values, broken,
              "--wait", f"--timeout={INSTALL_TIMEOUT}")  # fmt: skip
    # Only the scenario the defect must fail: the red run need not repeat the whole suite.
    kube.helm("upgrade", CHAOS, str(CHARTS / "mlchaos"), *installed.mlchaos_values,
              *scenario_files("feature-store-outage.yaml"), "--wait", f"--timeout={INSTALL_TIMEOUT}")  # fmt: skip

    completed, suite = run_suite(installed, "realnode-red")

    assert not completed, f"the job should fail with the suite\n{suite.logs}"
    assert (suite.summary["status"], suite.summary["exit_code"]) == ("failed", 1), suite.logs
    failed = {(f["scenario"], f["verifier"]): f["name"] for f in suite.summary["failures"]}
    assert ("feature-store-outage", "fallback_engaged") in failed, f"{failed}\n{suite.logs}"
    assert failed["feature-store-outage", "fallback_engaged"] in suite.junit_failures(), (
        suite.junit_failures()
    )
    _, run = suite.run("feature-store-outage")
    # The defect shows under the fault, not before it: the baseline held, so the experiment was valid.
    assert all(v["passed"] for v in run["verdicts"] if v["name"] == "steady_state (baseline)"), run[
        "verdicts"
    ]
