"""Real `mlchaos run` and `mlchaos rollback` commands against the real API server: pods killed by selector and by
percent are replaced by their ReplicaSet and MTTR is measured from readiness; a scale outage is reverted on success,
on SIGTERM and — after SIGKILL — by `mlchaos rollback` from the journal."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pytest
import requests
from k8s_cluster import KubeCluster
from k8s_run_helpers import (
    kubernetes_target,
    ready_deployment,
    ready_pods,
    replicas,
    wait_ready,
    write_scenario,
)
from support.cli_runs import MLCHAOS, run_mlchaos
from support.waiting import wait_until

from mlchaos.experiments.journal import Entry, Event, read_journal
from mlchaos.staging.endpoints import StackEndpoints
from mlchaos.staging.options import StackOptions
from mlchaos.staging.stack import EmbeddedStack


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StackEndpoints]:
    """The reference gateway the load goes to (kwok's pods serve nothing); see k8s_run_helpers."""
    with EmbeddedStack(StackOptions()) as running:
        yield running.endpoints


def readiness_mttr(fault: str, max_s: float = 60) -> dict[str, Any]:
    return {"type": "mttr", "fault": fault, "max": max_s, "window": 1, "source": "readiness",
            "workload": "deployment/primary"}  # fmt: skip


def only_run(out: Path) -> Path:
    runs = [d for d in out.iterdir() if d.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def verdicts(run_dir: Path) -> dict[str, dict[str, Any]]:
    document = json.loads((run_dir / "verdicts.json").read_text())
    return {v["name"]: v for v in document["verdicts"]}


def journal(run_dir: Path) -> list[Entry]:
    return read_journal(run_dir / "journal.jsonl")


def deleted_uids(entries: list[Entry]) -> set[str]:
    """UIDs the journal says were about to be deleted."""
    actions = [e.detail or "" for e in entries if e.event == Event.FAULT_ACTION]
    return {uid for action in actions for uid in re.findall(r"\(uid ([0-9a-f-]+)\)", action)}


def end(children: list[psutil.Process]) -> None:
    """The load child of a SIGKILLed run stops by itself (tests/engine checks that); here it only must not outlive
    the test."""
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.terminate()
    psutil.wait_procs(children, timeout=15)


@pytest.mark.parametrize(
    ("fault", "killed"),
    [
        ({"selector": "app=primary,tier!=canary", "mode": "count", "count": 1}, 1),
        ({"selector": "app=primary", "mode": "percent", "percent": 50}, 2),  # 50 % of 4
    ],
    ids=["selector-count", "percent"],
)
def test_pod_kill_is_healed_by_the_replicaset_and_mttr_comes_from_readiness(
    kube_cluster: KubeCluster,
    namespace: str,
    stand_in: StackEndpoints,
    tmp_path: Path,
    fault: dict[str, Any],
    killed: int,
) -> None:
    before = ready_deployment(kube_cluster, namespace, "primary", 4)
    spec = {"type": "k8s_pod_kill", "id": "kill", "duration": 4, "grace_period": 0, **fault}
    target = kubernetes_target(kube_cluster, namespace, stand_in)
    scenario = write_scenario(tmp_path, target, [spec], verifiers=[readiness_mttr("kill")])

    result = run_mlchaos("run", "--out", str(tmp_path / "runs"), str(scenario))

    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = only_run(tmp_path / "runs")
    entries = journal(run_dir)
    gone = deleted_uids(entries)
    assert len(gone) == killed and gone <= set(before), "the journal names the pods it deleted, by UID"
    action = next(e for e in entries if e.event == Event.FAULT_ACTION)
    injected = next(e for e in entries if e.event == Event.INJECTED)
    assert action.seq < injected.seq, "the pods were journalled before they were deleted"
    after = ready_pods(kube_cluster, namespace, "app=primary")
    assert len(after) == 4 and not gone & set(after), (
        "the ReplicaSet replaced each deleted pod with a new one"
    )
    survivors = set(before) - gone
    assert survivors <= set(after), "no other pod was touched"

    mttr = verdicts(run_dir)["mttr (kill)"]
    assert mttr["passed"] and mttr["measured"] is not None
    assert mttr["details"]["source"] == "readiness" and "deployment/primary" in mttr["explanation"]


def test_scale_outage_is_reverted_at_its_end(
    kube_cluster: KubeCluster, namespace: str, stand_in: StackEndpoints, tmp_path: Path
) -> None:
    ready_deployment(kube_cluster, namespace, "primary", 3)
    fault = {"type": "scale_outage", "id": "down", "duration": 3, "workload": "deployment/primary"}
    # A network fault through the target's toxiproxy (a port-forward's stand-in) in the same run.
    slow = {"type": "latency", "id": "slow", "duration": 3, "dependency": "primary_model", "latency_ms": 50}
    target = kubernetes_target(kube_cluster, namespace, stand_in)
    scenario = write_scenario(tmp_path, target, [fault, slow], verifiers=[readiness_mttr("down")])

    result = run_mlchaos("run", "--out", str(tmp_path / "runs"), str(scenario))

    assert result.returncode == 0, result.stdout + result.stderr
    assert replicas(kube_cluster, namespace, "primary") == 3
    toxics = requests.get(f"{stand_in.toxiproxy_url}/proxies/primary_model/toxics", timeout=5).json()
    assert toxics == [], "the latency toxic was removed"
    run_dir = only_run(tmp_path / "runs")
    assert {e.fault_id for e in journal(run_dir) if e.event == Event.INJECTED} == {"down", "slow"}
    intent = next(e for e in journal(run_dir) if e.event == Event.INJECT_INTENT and e.fault_id == "down")
    assert intent.undo is not None and intent.undo["replicas"] == 3, "the original count was journalled first"
    mttr = verdicts(run_dir)["mttr (down)"]
    assert mttr["passed"] and mttr["details"]["from"] == "revert", mttr
    # While the outage lasted, the probes saw the workload down.
    probes = pd.read_parquet(run_dir / "probes.parquet")
    readiness = probes[probes["check"] == "workload:deployment/primary"]
    assert (readiness["value"] == "0/0").any() and readiness["ok"].iloc[-1]


def start_run(tmp_path: Path, scenario: Path) -> subprocess.Popen[bytes]:
    with (tmp_path / "output.txt").open("wb") as output:
        return subprocess.Popen(
            [str(MLCHAOS), "run", "--out", str(tmp_path / "runs"), str(scenario)],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def wait_for_injected(process: subprocess.Popen[bytes], tmp_path: Path) -> Path:
    def injected() -> bool:
        assert process.poll() is None, (tmp_path / "output.txt").read_text()
        runs = list((tmp_path / "runs").glob("*")) if (tmp_path / "runs").exists() else []
        return bool(runs) and any(e.event == Event.INJECTED for e in journal(runs[0]))

    wait_until(injected, 120, "the scale outage injected", interval_s=0.2)
    return only_run(tmp_path / "runs")


@pytest.fixture
def long_outage(kube_cluster: KubeCluster, namespace: str, stand_in: StackEndpoints, tmp_path: Path) -> Path:
    ready_deployment(kube_cluster, namespace, "primary", 2)
    fault = {"type": "scale_outage", "id": "down", "duration": 120, "workload": "deployment/primary"}
    target = kubernetes_target(kube_cluster, namespace, stand_in)
    return write_scenario(tmp_path, target, [fault])


def test_sigterm_during_a_scale_outage_restores_the_replicas(
    kube_cluster: KubeCluster, namespace: str, long_outage: Path, tmp_path: Path
) -> None:
    process = start_run(tmp_path, long_outage)
    try:
        wait_for_injected(process, tmp_path)
        assert replicas(kube_cluster, namespace, "primary") == 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 3, (tmp_path / "output.txt").read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert replicas(kube_cluster, namespace, "primary") == 2
    wait_ready(kube_cluster, namespace, "primary", 2)


def test_rollback_after_sigkill_restores_the_replicas(
    kube_cluster: KubeCluster, namespace: str, long_outage: Path, tmp_path: Path
) -> None:
    process = start_run(tmp_path, long_outage)
    children: list[psutil.Process] = []
    try:
        run_dir = wait_for_injected(process, tmp_path)
        children = psutil.Process(process.pid).children(recursive=True)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        end(children)
    assert replicas(kube_cluster, namespace, "primary") == 0, "SIGKILL left the outage in place"

    rolled_back = run_mlchaos("rollback", str(run_dir))

    assert rolled_back.returncode == 0, rolled_back.stdout + rolled_back.stderr
    assert "reverted down" in rolled_back.stdout
    assert replicas(kube_cluster, namespace, "primary") == 2
    wait_ready(kube_cluster, namespace, "primary", 2)
    again = run_mlchaos("rollback", str(run_dir))
    assert again.returncode == 0 and "nothing to undo" in again.stdout
