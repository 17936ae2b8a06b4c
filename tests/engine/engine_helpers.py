"""Helpers for end-to-end runs of the ``mlchaos`` command against a real embedded stack.

The stack fixture starts it *outside* the run (an external target), so after a run was interrupted or killed the
test can still look at toxiproxy and supervisord and see exactly what the run left applied.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import requests
import yaml

from mlchaos.experiments.journal import Entry, Event, read_journal
from mlchaos.injectors.backends.supervisor import SupervisorClient
from mlchaos.staging.endpoints import StackEndpoints

ROOT = Path(__file__).resolve().parents[2]
MLCHAOS = Path(sys.executable).parent / "mlchaos"
DATASET = ROOT / "scenarios" / "data" / "transactions.jsonl"


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
    name: str = "e2e",
    fault_s: float = 6.0,
    extra: dict[str, Any] | None = None,
) -> Path:
    """A short scenario (3 s baseline, ``fault_s`` fault, 3 s recovery, 3 s after) around one fault.

    ``extra`` adds to it: mappings are merged into the scenario's (``load``, ``steady_state``), lists are
    appended to (``verifiers``), anything else is set.
    """
    scenario: dict[str, Any] = {
        "name": name,
        "target": target,
        "load": {"users": 3, "wait": [0.02, 0.05], "dataset": str(DATASET)},
        "steady_state": {"window": "3s", "min_availability": 0.95},
        "faults": [{"id": "f", "at": 0, "duration": fault_s, **fault}],
        "recovery": "3s",
        "verifiers": [{"type": "availability", "min": 0.5}],
    }
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(scenario.get(key), dict):
            scenario[key] = {**scenario[key], **value}
        elif isinstance(value, list) and isinstance(scenario.get(key), list):
            scenario[key] = [*scenario[key], *value]
        else:
            scenario[key] = value
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    return path


@dataclass
class RunProcess:
    process: subprocess.Popen[bytes]
    out: Path
    output_path: Path

    def run_dir(self) -> Path:
        dirs = [d for d in self.out.iterdir() if d.is_dir()] if self.out.exists() else []
        assert len(dirs) <= 1, dirs
        return dirs[0] if dirs else self.out / "missing"

    def journal(self) -> list[Entry]:
        return read_journal(self.run_dir() / "journal.jsonl")

    def wait_for(self, event: Event, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(e.event == event for e in self.journal()):
                return
            assert self.process.poll() is None, f"run ended before {event}:\n{self.output()}"
            time.sleep(0.1)
        raise AssertionError(f"no {event} in the journal within {timeout_s}s:\n{self.output()}")

    def signal(self, signum: signal.Signals) -> None:
        os.kill(self.process.pid, signum)

    def finish(self, timeout_s: float = 90.0) -> int:
        return self.process.wait(timeout=timeout_s)

    def output(self) -> str:
        return self.output_path.read_text(encoding="utf-8", errors="replace")


def start_run(tmp_path: Path, *args: str) -> RunProcess:
    out = tmp_path / "runs"
    output_path = tmp_path / "output.txt"
    with output_path.open("wb") as sink:
        process = subprocess.Popen(
            [str(MLCHAOS), "run", "--out", str(out), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return RunProcess(process, out, output_path)


def run_mlchaos(*args: str, timeout_s: float = 180.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MLCHAOS), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, "COLUMNS": "200"},
    )


def proxy_state(stack: StackEndpoints, proxy: str) -> dict[str, object]:
    response = requests.get(f"{stack.toxiproxy_url}/proxies/{proxy}", timeout=5)
    response.raise_for_status()
    state: dict[str, object] = response.json()
    return state


def program_state(stack: StackEndpoints, program: str) -> str:
    return SupervisorClient(stack.supervisor_url).program(program).state


def load_children() -> list[psutil.Process]:
    """Load child processes still alive anywhere on the machine."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "mlchaos.experiments.load.child" in cmdline:
            found.append(process)
    return found


def wait_until_gone(processes: list[psutil.Process], timeout_s: float = 15.0) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(processes, timeout=timeout_s)
    return alive
