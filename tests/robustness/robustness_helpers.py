"""Driving ``mlchaos`` as a user would, while breaking what it depends on, and checking what it left behind.

Every wait is bounded; everything talks to real processes on loopback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil
import requests
import yaml
from support.cli_runs import DATASET, load_children, run_mlchaos

from mlchaos.injectors.backends.supervisor import SupervisorClient
from mlchaos.staging.endpoints import StackEndpoints

TRACEBACK = "Traceback (most recent call last)"


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
