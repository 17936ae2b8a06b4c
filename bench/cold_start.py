"""How long the embedded reference stack takes to start, cold, and to stop again.

Each repetition starts a fresh :class:`~mlchaos.staging.stack.EmbeddedStack` in a new temporary directory —
supervisord, redis-server, toxiproxy-server, the primary model server and the gateway, the feature store loaded,
both models trained — and times ``start()`` until it returns (the gateway ready on its primary tier and one
canary answered), then the first ``/predict`` answer, then ``stop()`` (every process gone, the directory
removed). This is the start-up ``mlchaos run`` pays for every scenario with ``target: embedded``.

    .venv/bin/python bench/cold_start.py            # writes its table into bench/README.md
    .venv/bin/python bench/cold_start.py --reps 1 --no-readme
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from dataclasses import dataclass

import httpx
import psutil
from benchlib import DATASET, median_spread, stamp, write_section

from mlchaos.staging.options import StackOptions
from mlchaos.staging.stack import EmbeddedStack

GOAL_S = 10.0


@dataclass(frozen=True)
class ColdStart:
    ready_s: float
    first_predict_s: float
    stop_s: float
    cpu_s: float
    """CPU time the stack's processes used until ready: what the start needs whatever else runs."""


def stack_cpu_seconds(supervisord_pid: int) -> float:
    """CPU time of supervisord and every process under it (the programs, and their reaped children)."""
    root = psutil.Process(supervisord_pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a short-lived helper may be gone already
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def measure_once(body: dict[str, object]) -> ColdStart:
    """Seconds to start (ready), to the first /predict answer after that, and to stop; CPU until ready."""
    stack = EmbeddedStack(StackOptions())
    started = time.perf_counter()
    try:
        endpoints = stack.start()
        ready = time.perf_counter()
        cpu = stack_cpu_seconds(endpoints.supervisord_pid)
        response = httpx.post(f"{endpoints.gateway_url}/predict", json=body, timeout=10.0)
        response.raise_for_status()
        answered = time.perf_counter()
    finally:
        stopping = time.perf_counter()
        stack.stop()
    stopped = time.perf_counter()
    return ColdStart(ready - started, answered - ready, stopped - stopping, cpu)


def table(samples: list[ColdStart]) -> str:
    ready = [s.ready_s for s in samples]
    met = "yes" if ready and max(ready) <= GOAL_S else "**no**"
    return "\n".join(
        [
            "| repetitions | start until ready (s) | stack CPU until ready (s) | then first /predict (ms) "
            "| stop (s) | goal start ≤ 10 s |",
            "|---:|---:|---:|---:|---:|:---|",
            f"| {len(samples)} | {median_spread(ready, 1)} | {median_spread([s.cpu_s for s in samples], 1)} "
            f"| {median_spread([1000 * s.first_predict_s for s in samples])} "
            f"| {median_spread([s.stop_s for s in samples], 1)} | {met} |",
            "",
            "Median (min–max). *Stack CPU*: user + system time of supervisord and every program under it until "
            "ready — what the start needs whatever else the machine runs.",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=3, help="cold starts (default 3)")
    parser.add_argument("--no-readme", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    body = json.loads(DATASET.read_text(encoding="utf-8").splitlines()[0])["body"]
    samples = []
    for rep in range(args.reps):
        samples.append(measure_once(body))
        print(f"cold start {rep + 1}/{args.reps}: ready in {samples[-1].ready_s:.1f} s")
    text = f"{table(samples)}\n\n{stamp(load_before)}"
    print(text)
    if not args.no_readme:
        write_section("cold_start", text)


if __name__ == "__main__":
    main()
