"""Starting and stopping stacks: the foreground entry point, orphans, failed starts, missing binaries."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest
import yaml
from staging_helpers import assert_all_gone, stack_pids, stack_ports

from mlchaos.experiments.targets import REFERENCE_DECLARATION, ExternalTarget
from mlchaos.staging import (
    BinaryNotFoundError,
    EmbeddedStack,
    StackEndpoints,
    StackOptions,
    StackStartError,
    stop_orphaned_stack,
)
from mlchaos.staging import supervisor as supervisor_module
from mlchaos.staging.__main__ import external_target_yaml
from mlchaos.staging.declaration import DECLARATION


@contextmanager
def foreground_stack(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], StackEndpoints]]:
    """``python -m mlchaos.staging --json`` in a child process, and the endpoints it printed."""
    stderr = (tmp_path / "stderr.txt").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlchaos.staging", "--json"],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(
        target=lambda: lines.put(process.stdout.readline() if process.stdout else ""), daemon=True
    ).start()
    endpoints: StackEndpoints | None = None
    try:
        raw = json.loads(lines.get(timeout=60))
        endpoints = StackEndpoints(
            **{**raw, "workdir": Path(raw["workdir"]), "programs": tuple(raw["programs"])}
        )
        yield process, endpoints
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        process.stdout.close()
        stderr.close()
        if endpoints is not None:  # whatever the test did, leave nothing behind
            stop_orphaned_stack(endpoints.supervisor_url, endpoints.supervisord_pid, endpoints.workdir)


@pytest.mark.stack
def test_foreground_stack_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    with foreground_stack(tmp_path) as (process, endpoints):
        assert httpx.get(f"{endpoints.gateway_url}/health/ready", timeout=5).status_code == 200
        pids, ports = stack_pids(endpoints), stack_ports(endpoints)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert_all_gone(pids, ports)
        assert not endpoints.workdir.exists()


@pytest.mark.stack
def test_orphaned_stack_is_torn_down_after_its_owner_was_killed(tmp_path: Path) -> None:
    with foreground_stack(tmp_path) as (process, endpoints):
        pids, ports = stack_pids(endpoints), stack_ports(endpoints)
        process.kill()  # SIGKILL: the owner gets no chance to clean up
        process.wait(timeout=10)
        assert httpx.get(f"{endpoints.gateway_url}/health/ready", timeout=5).status_code == 200  # still up
        stop_orphaned_stack(endpoints.supervisor_url, endpoints.supervisord_pid, endpoints.workdir)
        assert_all_gone(pids, ports)
        assert not endpoints.workdir.exists()
        stop_orphaned_stack(
            endpoints.supervisor_url, endpoints.supervisord_pid, endpoints.workdir
        )  # idempotent


@pytest.mark.stack
def test_failed_start_names_the_program_shows_its_log_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "toxiproxy-server"
    broken.write_text("#!/bin/sh\necho 'toxiproxy exploded: no such config' >&2\nexit 2\n")
    broken.chmod(0o755)
    monkeypatch.setattr(supervisor_module, "find_toxiproxy_server", lambda: broken)
    workdir = tmp_path / "stack"
    with pytest.raises(StackStartError) as raised:
        EmbeddedStack(StackOptions(), workdir=workdir).start(timeout_s=30)
    message = str(raised.value)
    assert "toxiproxy crashed at start" in message
    assert "toxiproxy exploded: no such config" in message
    leftovers = [
        p.pid for p in psutil.process_iter(["cmdline"]) if str(workdir) in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == []
    assert workdir.exists()  # a workdir the caller chose is kept, logs and all


def test_missing_toxiproxy_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("MLCHAOS_TOXIPROXY_SERVER", raising=False)
    with pytest.raises(BinaryNotFoundError, match=r"make setup.*install-toxiproxy\.sh"):
        supervisor_module.find_toxiproxy_server()


def test_toxiproxy_can_be_named_by_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = Path(sys.executable).parent / "toxiproxy-server"
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("MLCHAOS_TOXIPROXY_SERVER", str(real))
    assert supervisor_module.find_toxiproxy_server() == real


def test_external_target_snippet_matches_the_endpoints(tmp_path: Path) -> None:
    endpoints = StackEndpoints(
        gateway_url="http://127.0.0.1:1001",
        primary_url="http://127.0.0.1:1002",
        toxiproxy_url="http://127.0.0.1:1003",
        supervisor_url="http://127.0.0.1:1004",
        redis_url="redis://127.0.0.1:1005/0",
        workdir=tmp_path,
        supervisord_pid=1,
    )
    target = yaml.safe_load(external_target_yaml(endpoints))
    assert target == {
        **DECLARATION,  # how the stack reads: the same declaration embedded targets use
        "kind": "external",
        "service_url": "http://127.0.0.1:1001",
        "toxiproxy_url": "http://127.0.0.1:1003",
        "supervisor_url": "http://127.0.0.1:1004",
        "proxies": {"feature_store": "feature_store", "primary_model": "primary_model", "cache": "cache"},
        "programs": ["redis", "toxiproxy", "primary-model", "gateway"],
    }
    loaded = ExternalTarget.model_validate(target)  # what `--target` will load
    assert (
        loaded.declaration.model_dump(
            exclude={
                "kind",
                "service_url",
                "toxiproxy_url",
                "supervisor_url",
                "supervisor_auth",
                "proxies",
                "programs",
            }
        )
        == REFERENCE_DECLARATION.model_dump()
    )


def test_a_start_that_fails_before_supervisord_runs_leaves_no_directory_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A temporary directory whose path is too long for supervisord's unix socket: the start is refused after the
    # stack's directory was made and before anything runs.
    deep = tmp_path / ("t" * 60) / ("m" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    with pytest.raises(StackStartError, match="too long a path for supervisord's socket"):
        EmbeddedStack(StackOptions()).start()
    assert list(deep.iterdir()) == []
