"""Driving the ``mlchaos`` command as a user would, for every test folder that does (engine, robustness, k8s, ...),
and reading what the reference gateway itself counted.

``from support.cli_runs import run_mlchaos``. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

from mlchaos.experiments.journal import Entry, Event, read_journal
from support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
MLCHAOS = Path(sys.executable).parent / "mlchaos"
DATASET = ROOT / "scenarios" / "data" / "transactions.jsonl"

# Other test sessions may run mlchaos on this machine at the same time: the processes of ours carry this mark.
MARK_VARIABLE, MARK = "MLCHAOS_TEST_SESSION", f"pid-{os.getpid()}"


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of an ``mlchaos`` the tests start: wide output (messages are matched whole), our mark."""
    return {**os.environ, "COLUMNS": "250", MARK_VARIABLE: MARK, **extra}


def run_mlchaos(
    *args: str, timeout_s: float = 180.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``mlchaos ARGS``, with ``env`` added to its environment."""
    return subprocess.run(
        [str(MLCHAOS), *args], capture_output=True, text=True, timeout=timeout_s, env=cli_env(**(env or {}))
    )


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

        return wait_until(found, timeout_s, f"{event} in the journal", interval_s=0.1)

    def signal(self, signum: signal.Signals) -> None:
        os.kill(self.process.pid, signum)

    def finish(self, timeout_s: float = 120.0) -> int:
        return self.process.wait(timeout=timeout_s)

    def output(self) -> str:
        return self.output_path.read_text(encoding="utf-8", errors="replace")


def start_run(workdir: Path, *args: str, out: Path | None = None, tag: str = "run") -> RunProcess:
    """``mlchaos run --out OUT ARGS`` in the background (OUT: ``workdir/<tag>-runs``)."""
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


def load_children() -> list[psutil.Process]:
    """Load generator processes (children and workers) of the runs this test session started, still alive."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if "mlchaos.experiments.load.child" in (process.info["cmdline"] or []):
            with contextlib.suppress(psutil.Error):
                if process.environ().get(MARK_VARIABLE) == MARK:
                    found.append(process)
    return found


def wait_until_gone(processes: list[psutil.Process], timeout_s: float = 15.0) -> list[psutil.Process]:
    """The processes still alive after ``timeout_s``."""
    _, alive = psutil.wait_procs(processes, timeout=timeout_s)
    return alive


def gateway_answers(gateway_url: str) -> float:
    """How many ``POST /predict`` the gateway has answered, whatever the status (its own counter)."""
    text = httpx.get(f"{gateway_url}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "mlchaos_gateway_responses"
        for sample in family.samples
        if sample.name.endswith("_total")
    )
