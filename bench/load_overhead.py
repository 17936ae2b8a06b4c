"""What full per-request recording costs: mlchaos's load path vs bare Locust vs wrk, side by side.

On one embedded stack, against the gateway's ``POST /predict`` with one fixed body, it runs in turn, ``--reps``
times (A B C A B C …, so slow drifts of a shared machine hit all three alike):

- **mlchaos**: :class:`~mlchaos.experiments.load.runner.LoadRunner` — the Locust child with its request listener,
  every request a row streamed to this process and decoded into a record, as in ``mlchaos run``;
- **bare Locust**: the same user class, users and endpoint in one Locust process with no recording
  (``bench/bare_locust.py``);
- **wrk**: the same body, connections and endpoint; a C load generator, i.e. the machine's ceiling.

For each it reports requests/s and the load generator's CPU time per request (mlchaos: the child and the
collector thread in this process). Users send back to back (no wait), so each generator goes as fast as it can.

Why ``/predict``: it is the only request mlchaos's load path sends (a POST with a body), and the only answer it
records fully (tier, confidence and prediction parsed from the JSON body) — a GET of ``/health/live`` would
measure neither. On a small machine the gateway is then the bottleneck for all three; the CPU per request shows
what recording costs even when throughput cannot.

    .venv/bin/python bench/load_overhead.py                    # writes its table into bench/README.md
    .venv/bin/python bench/load_overhead.py --reps 1 --duration 3 --no-readme
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from benchlib import DATASET, WINDOW_MARGIN_S, median_spread, stamp, write_section

from mlchaos.experiments.load.runner import LoadRunner
from mlchaos.experiments.load.spec import LoadSpec, RequestTemplate
from mlchaos.staging.options import StackOptions
from mlchaos.staging.stack import EmbeddedStack

BARE_LOCUST = Path(__file__).with_name("bare_locust.py")
GOAL_RATIO = 0.9
WRK_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.body = {body}
"""


@dataclass
class Sample:
    rps: float
    cpu_ms_per_request: float
    errors: int


@dataclass
class Series:
    label: str
    samples: list[Sample] = field(default_factory=list)

    def rps(self) -> list[float]:
        return [s.rps for s in self.samples]

    def cpu(self) -> list[float]:
        return [s.cpu_ms_per_request for s in self.samples]


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_mlchaos(spec: LoadSpec) -> Sample:
    runner = LoadRunner(spec)
    runner.start()
    assert runner.started_at is not None and runner.pid is not None
    child = psutil.Process(runner.pid)
    # the same steady window as bare_locust.py: ramp-up and stop left out
    time.sleep(max(0.0, runner.started_at + WINDOW_MARGIN_S - time.time()))
    window_start, cpu_before = time.time(), process_cpu(child) + cpu_seconds(resource.RUSAGE_SELF)
    time.sleep(max(0.0, runner.started_at + spec.duration_s - WINDOW_MARGIN_S - time.time()))
    window_end, cpu_after = time.time(), process_cpu(child) + cpu_seconds(resource.RUSAGE_SELF)
    if runner.wait(timeout_s=spec.duration_s + spec.stop_grace_s + 15) is None:
        runner.stop()
        raise SystemExit("the mlchaos load child did not finish in time")
    records = runner.records
    done = sum(1 for r in records if window_start <= r.start + r.latency_ms / 1000 < window_end)
    errors = sum(1 for r in records if r.status != 200)
    seconds = window_end - window_start
    return Sample(done / seconds, 1000 * (cpu_after - cpu_before) / max(1, done), errors)


def process_cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def run_bare(spec_path: Path, spec: LoadSpec) -> Sample:
    out = subprocess.run(
        [sys.executable, str(BARE_LOCUST), str(spec_path)],
        capture_output=True,
        text=True,
        timeout=spec.duration_s + 60,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"bare Locust failed:\n{out.stderr[-2000:]}")
    window: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    requests = int(window["requests"])
    cpu_ms = 1000 * float(window["cpu_s"]) / max(1, requests)
    return Sample(requests / float(window["seconds"]), cpu_ms, int(window["failures"]))


def run_wrk(wrk: str, script: Path, url: str, users: int, duration_s: float) -> Sample:
    children = cpu_seconds(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [wrk, "-t1", f"-c{users}", f"-d{duration_s:g}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=duration_s + 30,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"wrk failed:\n{out.stdout}\n{out.stderr}")
    cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - children
    total = re.search(r"(\d+) requests in", out.stdout)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    if total is None or rate is None:
        raise SystemExit(f"cannot read wrk's output:\n{out.stdout}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    socket_errors = re.search(r"Socket errors: (.*)", out.stdout)
    errors = int(bad.group(1)) if bad else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    requests = int(total.group(1))
    return Sample(float(rate.group(1)), 1000 * cpu / max(1, requests), errors)


def table(series: list[Series], users: int, duration_s: float, reps: int) -> str:
    mlchaos, bare = series[0], series[1]
    ratios = [m.rps / b.rps for m, b in zip(mlchaos.samples, bare.samples, strict=True) if b.rps]
    cpu_ratios = [
        m.cpu_ms_per_request / b.cpu_ms_per_request
        for m, b in zip(mlchaos.samples, bare.samples, strict=True)
        if b.cpu_ms_per_request
    ]
    lines = [
        "| load generator | requests/s | × bare Locust (req/s) | CPU ms per request | non-2xx / errors |",
        "|:---|---:|---:|---:|---:|",
    ]
    for s in series:
        vs = "1" if s is bare else "—"
        if s is mlchaos:
            vs = median_spread(ratios, 2)
        lines.append(
            f"| {s.label} | {median_spread(s.rps())} | {vs} | {median_spread(s.cpu(), 2)} | "
            f"{sum(x.errors for x in s.samples)} |"
        )
    ratio = statistics.median(ratios) if ratios else 0.0
    met = "met" if ratio >= GOAL_RATIO else "**not met**"
    ceiling = statistics.median(series[2].rps()) if len(series) > 2 and series[2].samples else 0.0
    lines += [
        "",
        f"{users} users sending back to back for {duration_s:g} s, {reps} interleaved repetitions; median "
        "(min–max). Goal mlchaos ≥ 0.9 × bare Locust in requests/s: "
        f"{met} ({ratio:.2f}). mlchaos's recording costs "
        f"{statistics.median(cpu_ratios) if cpu_ratios else 0:.2f} × bare Locust's CPU per request; wrk "
        f"reaches {ceiling:,.0f} requests/s on the same endpoint.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=8, help="concurrent users / connections (default 8)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement (default 10)")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions (default 3)")
    parser.add_argument("--no-readme", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: run scripts/install-wrk.sh (or `make bench`, which does)")
    load_before = os.getloadavg()[0]
    body = json.loads(DATASET.read_text(encoding="utf-8").splitlines()[0])["body"]
    series = [Series("mlchaos (full recording)"), Series("bare Locust"), Series("wrk (ceiling)")]
    with EmbeddedStack(StackOptions()) as stack, tempfile.TemporaryDirectory(prefix="mlchaos-bench-") as tmp:
        url = f"{stack.endpoints.gateway_url}/predict"
        spec = LoadSpec(
            base_url=stack.endpoints.gateway_url,
            path="/predict",
            users=args.users,
            spawn_rate=args.users,
            duration_s=args.duration,
            requests=(RequestTemplate(body=body),),
        )
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(spec.model_dump_json(), encoding="utf-8")
        script = Path(tmp) / "post.lua"
        script.write_text(WRK_SCRIPT.format(body=json.dumps(json.dumps(body))), encoding="utf-8")
        run_wrk(wrk, script, url, args.users, 2.0)  # warm-up: connections, caches, the models' first calls
        for rep in range(args.reps):
            series[0].samples.append(run_mlchaos(spec))
            series[1].samples.append(run_bare(spec_path, spec))
            series[2].samples.append(run_wrk(wrk, script, url, args.users, args.duration))
            print(
                f"repetition {rep + 1}/{args.reps}: "
                + ", ".join(f"{s.label} {s.rps()[-1]:.0f}/s" for s in series)
            )
    text = f"{table(series, args.users, args.duration, args.reps)}\n\n{stamp(load_before)}"
    print(text)
    if not args.no_readme:
        write_section("load_overhead", text)


if __name__ == "__main__":
    main()
