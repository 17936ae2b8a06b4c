"""A killed CronJob run, as it happened: a suite's pod lost with its node (SIGKILL) in the middle of a
`scale_outage`, the workload left at 0 replicas — and next month's suite on the same report volume journalled 0 as
the count to restore. Now the next suite rolls the unfinished run back before it starts (and says so), the count
to restore was left on the workload itself, and the new run journals the original count.

One test on one real API server of its own (tests/k8s's environment): starting one costs ~30 s, so every step of
the story is checked on it in turn rather than in separate tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import k8s_cluster
import psutil
import pytest
import yaml
from k8s_cluster import KubeCluster, running_cluster
from k8s_run_helpers import kubernetes_target, ready_deployment, replicas, wait_ready, write_scenario
from kubernetes import client as k8s
from support.cli_runs import MLCHAOS, cli_env, run_mlchaos
from support.waiting import wait_until

from mlchaos.experiments.journal import Event, read_journal
from mlchaos.experiments.kubernetes.access import WorkloadRef
from mlchaos.experiments.kubernetes.client import connect
from mlchaos.experiments.kubernetes.workloads import read_annotation
from mlchaos.experiments.rollback import recover_unfinished
from mlchaos.experiments.session import kubernetes_endpoints
from mlchaos.experiments.targets import KubernetesTarget
from mlchaos.injectors.scale_outage import INJECTOR as SCALE_OUTAGE
from mlchaos.injectors.scale_outage import RESTORE_ANNOTATION, ScaleOutage
from mlchaos.staging.endpoints import StackEndpoints
from mlchaos.staging.options import StackOptions
from mlchaos.staging.stack import EmbeddedStack

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    problem = None
    try:
        with running_cluster(tmp_path_factory.mktemp("k8s")) as running:
            yield running
    except k8s_cluster.TestenvError as error:  # (imported by module: pytest would collect a Test* name)
        problem = str(error)
    if problem is not None:
        pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StackEndpoints]:
    """The gateway the load goes to: kwok's pods serve nothing (see tests/k8s/k8s_run_helpers)."""
    with EmbeddedStack(StackOptions()) as running:
        yield running.endpoints


def suite_file(directory: Path, name: str, scenario: Path) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "scenarios": [scenario.name]}), encoding="utf-8")
    return path


def scale_outage_scenario(directory: Path, target: dict[str, object], name: str, duration_s: float) -> Path:
    fault = {"type": "scale_outage", "id": "down", "duration": duration_s, "workload": "deployment/primary"}
    return write_scenario(directory, target, [fault], name=name)


def journals(out: Path) -> list[Path]:
    return sorted(out.glob("*/*/journal.jsonl"))


def kill_when_injected(process: subprocess.Popen[bytes], out: Path, output: Path) -> Path:
    """SIGKILL the suite once its scale outage is applied, as a node loss would; its run directory."""

    def injected() -> bool:
        assert process.poll() is None, output.read_text()
        return any(e.event == Event.INJECTED for path in journals(out) for e in read_journal(path))

    children: list[psutil.Process] = []
    try:
        wait_until(injected, 120, "the scale outage injected", interval_s=0.2)
        children = psutil.Process(process.pid).children(recursive=True)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        for child in children:  # the load child stops by itself; here it only must not outlive the test
            with contextlib.suppress(psutil.NoSuchProcess):
                child.terminate()
        psutil.wait_procs(children, timeout=15)
    [journal] = journals(out)
    return journal.parent


def test_the_next_suite_rolls_back_a_killed_run_and_restores_the_original_count(
    cluster: KubeCluster, stand_in: StackEndpoints, tmp_path: Path
) -> None:
    namespace = f"t-{uuid.uuid4().hex[:8]}"
    k8s.CoreV1Api(cluster.api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
    wait_until(
        lambda: bool(
            k8s.CoreV1Api(cluster.api)
            .list_namespaced_service_account(namespace, field_selector="metadata.name=default")
            .items
        ),
        60,
        f"the default ServiceAccount of namespace {namespace}",
        interval_s=0.2,
    )
    ready_deployment(cluster, namespace, "primary", 2)
    target = kubernetes_target(cluster, namespace, stand_in)
    out, output = tmp_path / "reports", tmp_path / "killed-suite.txt"

    # This month's suite, killed mid-outage.
    long = suite_file(tmp_path, "monthly", scale_outage_scenario(tmp_path, target, "long-outage", 120))
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [str(MLCHAOS), "suite", "--out", str(out), "--no-history", str(long)],
            stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=cli_env(),
        )  # fmt: skip
    killed = kill_when_injected(process, out, output)
    assert replicas(cluster, namespace, "primary") == 0, "the kill left the outage in place"
    workload = WorkloadRef.parse("deployment/primary", namespace)
    kube = connect(kubernetes_endpoints(KubernetesTarget.model_validate(target)).kubernetes.access)  # type: ignore[union-attr]
    assert read_annotation(kube, workload, RESTORE_ANNOTATION) == "2", (
        "the count to restore is on the workload"
    )

    # Had nobody rolled it back, a new scale outage would still restore 2 — from the workload — not the 0 it finds.
    spec = ScaleOutage.model_validate(
        {"type": "scale_outage", "id": "down", "duration": 3, "workload": "deployment/primary"}
    )
    inherited = SCALE_OUTAGE.plan(spec, kubernetes_endpoints(KubernetesTarget.model_validate(target)))
    assert (inherited.undo.replicas, inherited.undo.found) == (2, 0)
    assert f"{RESTORE_ANNOTATION}=2 was left on it by a run that did not finish" in inherited.touches[0]

    # Next month's suite on the same report volume.
    short = suite_file(tmp_path, "monthly", scale_outage_scenario(tmp_path, target, "short-outage", 3))
    result = run_mlchaos("suite", "--out", str(out), "--no-history", str(short), timeout_s=240)

    shown = result.stdout + result.stderr
    assert result.returncode == 0, shown
    assert f"unfinished run {killed} rolled back: reverted down" in shown
    [summary_file] = [p for p in out.glob("*/summary.json") if p.parent != killed.parent]
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    assert summary["unfinished_runs_rolled_back"] == [f"unfinished run {killed} rolled back: reverted down"]
    assert "Unfinished runs rolled back first" in (summary_file.parent / "report.html").read_text()
    assert any(
        e.event == Event.REVERTED and e.fault_id == "down" for e in read_journal(killed / "journal.jsonl")
    )
    [new_run] = [p.parent for p in journals(out) if p.parent != killed]
    intent = next(e for e in read_journal(new_run / "journal.jsonl") if e.event == Event.INJECT_INTENT)
    assert intent.undo is not None and intent.undo["replicas"] == 2, "the original count, not 0"
    assert replicas(cluster, namespace, "primary") == 2
    assert read_annotation(kube, workload, RESTORE_ANNOTATION) is None, "removed with the revert"
    wait_ready(cluster, namespace, "primary", 2)

    assert recover_unfinished(out) == [], "reported once, when it was undone: the next suite finds nothing"
