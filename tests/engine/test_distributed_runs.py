"""Whole runs with `load.workers`: the verifiers judge the same per-request data as with one load process.

The gateway's own count of answered requests is the ground truth: every request it answered during the run is a
row of requests.parquet, whether local worker processes sent it or `mlchaos load-worker` processes serving a
run started with `--worker-bind` (what the chart's worker pods do; they share the load secret with the run).
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from engine_helpers import write_scenario
from support.cli_runs import MLCHAOS, gateway_answers, load_children, run_mlchaos, wait_until_gone

from mlchaos.experiments.load.load_secret import SECRET_FILE_ENV
from mlchaos.staging.endpoints import StackEndpoints

pytestmark = pytest.mark.stack

DISTRIBUTED = {
    "load": {"users": 4, "workers": 2},
    "verifiers": [
        {"type": "fallback_engaged", "fault": "f", "tiers": ["fallback"], "min_share": 0.9},
        {"type": "mttr", "fault": "f", "max": "8s", "window": "2s"},
    ],
}


def recorded(out: Path) -> pd.DataFrame:
    (run_dir,) = [d for d in out.iterdir() if d.is_dir()]
    return pd.read_parquet(run_dir / "requests.parquet")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_local_workers_record_every_request_and_the_verifiers_pass(
    stack: StackEndpoints, tmp_path: Path
) -> None:
    fault = {"type": "feature_store_outage", "mode": "down"}
    scenario = write_scenario(tmp_path, fault, target=stack.as_external_target(), extra=DISTRIBUTED)
    before = gateway_answers(stack.gateway_url)
    out = tmp_path / "runs"
    result = run_mlchaos("run", "--out", str(out), str(scenario))
    assert result.returncode == 0, result.stdout + result.stderr

    rows = recorded(out)
    assert len(rows) == gateway_answers(stack.gateway_url) - before > 100
    assert set(rows["tier"].dropna()) >= {"primary", "fallback"}
    assert not wait_until_gone(load_children())


def test_a_run_at_worker_bind_is_served_by_mlchaos_load_worker_processes(
    stack: StackEndpoints, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = tmp_path / "load-secret"
    secret_file.write_text("a-shared-load-secret-0123456789\n")
    secret_file.chmod(0o600)
    monkeypatch.setenv(SECRET_FILE_ENV, str(secret_file))  # for the workers; the run gets --secret-file
    master = f"127.0.0.1:{free_port()}"
    workers = [
        subprocess.Popen(
            [str(MLCHAOS), "load-worker", master, "--loads", "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        fault = {"type": "feature_store_outage", "mode": "down"}
        scenario = write_scenario(tmp_path, fault, target=stack.as_external_target(), extra=DISTRIBUTED)
        before = gateway_answers(stack.gateway_url)
        out = tmp_path / "runs"
        result = run_mlchaos(
            "run",
            "--out",
            str(out),
            "--worker-bind",
            master,
            "--secret-file",
            str(secret_file),
            str(scenario),
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert len(recorded(out)) == gateway_answers(stack.gateway_url) - before > 100
        for worker in workers:
            output, _ = worker.communicate(timeout=30)
            assert worker.returncode == 0 and "load 1: served" in output, output
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
            worker.communicate(timeout=10)


def test_plan_says_where_the_load_comes_from(stack: StackEndpoints, tmp_path: Path) -> None:
    scenario = write_scenario(
        tmp_path, {"type": "feature_store_outage"}, target=stack.as_external_target(), extra=DISTRIBUTED
    )
    local = run_mlchaos("plan", str(scenario))
    assert local.returncode == 0, local.stderr
    assert "load: 4 users from 2 local Locust worker processes" in local.stdout
    remote = run_mlchaos("plan", "--worker-bind", "0.0.0.0:5557", str(scenario))
    assert "load: 4 users from 2 Locust workers connecting to 0.0.0.0:5557" in remote.stdout
    bad = run_mlchaos("plan", "--worker-bind", "5557", str(scenario))
    assert bad.returncode == 2 and "expected HOST:PORT" in bad.stderr
