"""Driving ``mlchaos`` as a user would, while breaking what it depends on, and checking what it left behind.

Every wait is bounded; everything talks to real processes on loopback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psutil
import requests
import yaml

from mlchaos.experiments.journal import Entry, Event, read_journal
from mlchaos.injectors.backends.supervisor import SupervisorClient
from mlchaos.staging.endpoints import StackEndpoints

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
MLCHAOS = Path(sys.executable).parent / "mlchaos"
DATASET = ROOT / "scenarios" / "data" / "transactions.jsonl"
TRACEBACK = "Traceback (most recent call last)"


def wait_until(check: Callable[[], T | None], timeout_s: float, what: str, interval_s: float = 0.1) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def external_target(stack: StackEndpoints) -> dict[str, object]:
    return {
        "kind": "external",
        "service_url": stack.gateway_url,
        "toxiproxy_url": stack.toxiproxy_url,
        "supervisor_url": stack.supervisor_url,
        "proxies": dict(stack.proxies),
        "programs": list(stack.programs),
    }


def write_scenario(
    directory: Path,
    fault: dict[str, object],
    *,
    target: object = "embedded",
    name: str = "chaos",
    fault_s: float = 6.0,
    window_s: float = 2.0,
) -> Path:
    """A short run (``window_s`` baseline, ``fault_s`` fault, 2 s recovery, ``window_s`` after) around one fault,
    with a lenient verifier: these tests judge the harness, not the target."""
    scenario: dict[str, Any] = {
        "name": name,
        "target": target,
        "load": {"users": 2, "wait": [0.02, 0.05], "dataset": str(DATASET)},
        "steady_state": {"window": f"{window_s}s", "min_availability": 0.9},
        "faults": [{"id": "f", "at": 0, "duration": fault_s, **fault}],
        "recovery": "2s",
        "verifiers": [{"type": "availability", "min": 0.1}],
    }
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    return path


# Other test sessions may run mlchaos on this machine at the same time: the processes of ours carry this mark.
MARK_VARIABLE, MARK = "MLCHAOS_ROBUSTNESS_TESTS", f"pid-{os.getpid()}"


def cli_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", MARK_VARIABLE: MARK, **extra}


@dataclass
class RunProcess:
    """``mlchaos run`` in the background, its output in a file."""

    process: subprocess.Popen[bytes]
    out: Path
    output_path: Path

    def run_dir(self) -> Path:
        dirs = sorted(d for d in self.out.iterdir() if d.is_dir()) if self.out.exists() else []
        assert len(dirs) <= 1, dirs
        return dirs[0] if dirs else self.out / "missing"

    def journal(self) -> list[Entry]:
        return read_journal(self.run_dir() / "journal.jsonl")

    def wait_for(self, event: Event, timeout_s: float = 60.0) -> Entry:
        def found() -> Entry | None:
            assert self.process.poll() is None, f"run ended before {event}:\n{self.output()}"
            return next((e for e in self.journal() if e.event == event), None)

        return wait_until(found, timeout_s, f"{event} in the journal")

    def signal(self, signum: signal.Signals) -> None:
        os.kill(self.process.pid, signum)

    def finish(self, timeout_s: float = 120.0) -> int:
        return self.process.wait(timeout=timeout_s)

    def output(self) -> str:
        return self.output_path.read_text(encoding="utf-8", errors="replace")


def start_run(workdir: Path, *args: str, out: Path | None = None, tag: str = "run") -> RunProcess:
    out = out or workdir / f"{tag}-runs"
    output_path = workdir / f"{tag}-output.txt"
    with output_path.open("wb") as sink:
        process = subprocess.Popen(
            [str(MLCHAOS), "run", "--out", str(out), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=cli_env(),
        )
    return RunProcess(process, out, output_path)


def run_mlchaos(*args: str, timeout_s: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MLCHAOS), *args], capture_output=True, text=True, timeout=timeout_s, env=cli_env()
    )


def toxiproxy_proxies(stack: StackEndpoints) -> dict[str, Any]:
    response = requests.get(f"{stack.toxiproxy_url}/proxies", timeout=5)
    response.raise_for_status()
    proxies: dict[str, Any] = response.json()
    return proxies


def assert_nothing_applied(stack: StackEndpoints) -> None:
    """Every proxy enabled and free of toxics, every program running."""
    for name, proxy in toxiproxy_proxies(stack).items():
        assert proxy["enabled"], f"proxy {name} left disabled"
        assert not proxy["toxics"], f"proxy {name} left with toxics {proxy['toxics']}"
    client = SupervisorClient(stack.supervisor_url)
    states = {program: client.program(program).state for program in stack.programs}
    assert all(state == "RUNNING" for state in states.values()), states


def assert_rollback_has_nothing_left(run_dir: Path) -> None:
    """``mlchaos rollback`` on the run finds nothing outstanding (exit 0, nothing reverted)."""
    result = run_mlchaos("rollback", str(run_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nothing to undo" in result.stdout, result.stdout


def load_children() -> list[psutil.Process]:
    """Load generator child processes of the runs these tests started, still alive."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if "mlchaos.experiments.load.child" in (process.info["cmdline"] or []):
            with contextlib.suppress(psutil.Error):
                if process.environ().get(MARK_VARIABLE) == MARK:
                    found.append(process)
    return found


def processes_under(workdir: Path) -> list[psutil.Process]:
    """Processes whose command line names ``workdir`` (an embedded stack's programs do)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if any(str(workdir) in part for part in cmdline):
            found.append(process)
    return found


def assert_no_leftover_processes(stack_workdir: Path | None = None) -> None:
    _, alive = psutil.wait_procs(load_children(), timeout=15)
    assert not alive, f"load children left running: {[p.pid for p in alive]}"
    if stack_workdir is not None:
        _, alive = psutil.wait_procs(processes_under(stack_workdir), timeout=15)
        assert not alive, f"stack processes left running: {[p.pid for p in alive]}"
