"""What a SIGKILLed run leaves: a real ``mlchaos run`` killed after 60 s of load, its recording read back.

One ``mlchaos run`` against an embedded stack (started here and given to the run as an external target, so its
start-up is not part of the run) with a baseline longer than the test. Once its load has run for ``--after``
seconds (by its own ``load_started`` clock: the first row's start), the ``mlchaos`` process gets SIGKILL — no
handler runs, nothing is saved on the way out. Then: how many seconds of requests its recording holds (first to
last recorded start), ``mlchaos rollback`` and ``mlchaos report`` on the run directory (exit codes and time), and
whether the report says the recording is partial. The table goes into bench/README.md between its BENCH markers.

    .venv/bin/python bench/kill_recording.py              # killed after 60 s, updates bench/README.md
    .venv/bin/python bench/kill_recording.py --after 10   # a quick check, prints the table only
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import yaml
from benchlib import DATASET, stamp, write_section

from mlchaos.experiments.load.recording import STREAM_NAME, stream_table
from mlchaos.staging.endpoints import StackEndpoints
from mlchaos.staging.options import StackOptions
from mlchaos.staging.stack import EmbeddedStack

MLCHAOS = Path(sys.executable).parent / "mlchaos"
GOAL_S = 55.0


def scenario(stack: StackEndpoints, after_s: float) -> dict[str, Any]:
    return {
        "name": "bench-kill-recording",
        "target": stack.as_external_target(),
        "load": {"users": 4, "wait": [0.01, 0.03], "dataset": str(DATASET)},
        "steady_state": {"window": f"{after_s + 60:g}s", "min_availability": 0.9},
        "faults": [
            {"id": "f", "type": "latency", "dependency": "feature_store", "latency_ms": 50, "duration": 5}
        ],
        "recovery": "5s",
        "verifiers": [{"type": "availability", "min": 0.5}],
    }


def first_start(run_dir: Path, timeout_s: float) -> float:
    """The start of the first recorded request (the load's clock, as the rows have it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stream = run_dir / STREAM_NAME
        if stream.exists() and (table := stream_table(stream, ["start"])).num_rows:
            return float(pc.min(table["start"]).as_py())
        time.sleep(0.2)
    raise SystemExit(f"no request recorded in {run_dir} within {timeout_s:g}s")


def measure(after_s: float, workdir: Path) -> dict[str, Any]:
    with EmbeddedStack(StackOptions()) as stack:
        path = workdir / "scenario.yaml"
        path.write_text(yaml.safe_dump(scenario(stack.endpoints, after_s)), encoding="utf-8")
        out = workdir / "runs"
        with (workdir / "output.txt").open("wb") as output:
            run = subprocess.Popen(
                [str(MLCHAOS), "run", "--out", str(out), str(path)], stdout=output, stderr=output
            )
            try:
                deadline = time.monotonic() + 120
                while not (out.exists() and any(out.iterdir())) and time.monotonic() < deadline:
                    time.sleep(0.2)
                run_dir = next(out.iterdir())
                began = first_start(run_dir, 60)
                time.sleep(max(0.0, began + after_s - time.time()))
                os.kill(run.pid, signal.SIGKILL)
                killed_at = time.time()
            finally:
                run.kill()
                run.wait(30)
        recorded = stream_table(run_dir / STREAM_NAME, ["start"])
        span = float(pc.max(recorded["start"]).as_py()) - began
        started = time.perf_counter()
        rollback = subprocess.run([str(MLCHAOS), "rollback", str(run_dir)], capture_output=True, text=True)
        rollback_s = time.perf_counter() - started
        started = time.perf_counter()
        report = subprocess.run([str(MLCHAOS), "report", str(run_dir)], capture_output=True, text=True)
        report_s = time.perf_counter() - started
    html = (run_dir / "report.html").read_text(encoding="utf-8") if report.returncode == 0 else ""
    return {
        "after": killed_at - began,
        "rows": recorded.num_rows,
        "span": span,
        "rollback": f"exit {rollback.returncode}, {rollback_s:.1f} s",
        "report": f"exit {report.returncode}, {report_s:.1f} s",
        "partial": "recording partial:" in report.stdout and "recording partial:" in html,
    }


def table(r: dict[str, Any]) -> str:
    met = "yes" if r["span"] >= GOAL_S * r["after"] / 60 and r["partial"] else "**no**"
    return "\n".join(
        [
            "| killed after (s of load) | rows readable | seconds of rows readable | `mlchaos rollback` "
            "| `mlchaos report` | says “recording partial” | goal (≥ 55 s of 60) met |",
            "|---:|---:|---:|:---|:---|:---|:---|",
            f"| {r['after']:.1f} | {r['rows']:,} | {r['span']:.1f} | {r['rollback']} | {r['report']} "
            f"| {'yes' if r['partial'] else '**no**'} | {met} |",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--after", type=float, default=60.0, help="seconds of load before the kill (default 60)"
    )
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mlchaos-bench-") as tmp:
        result = measure(args.after, Path(tmp))
    text = f"{table(result)}\n\n{stamp(load_before)}"
    print(text)
    if args.after == 60.0:
        write_section("kill_recording", text)


if __name__ == "__main__":
    main()
