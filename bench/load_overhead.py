"""What full per-request recording costs where the load generator is the bottleneck: mlchaos vs Locust vs wrk.

Against the fast test endpoint (``bench/fast_endpoint.py``: one fixed JSON answer, over 100,000 requests/s
alone, declared by ``bench/fast_target.yaml``), it runs in turn, ``--reps`` times (A B C D A B C D …, so slow
drifts of a shared machine hit them all alike):

- **mlchaos**: :class:`~mlchaos.experiments.load.runner.LoadRunner` with the load the target file gives — the
  Locust child with its request listener (tier, confidence, prediction and score read from each JSON answer
  through the target's mapping), every request a row streamed to this process and decoded into a record, as in
  ``mlchaos run``;
- **bare Locust**: the same user class, users and endpoint in one Locust process with no recording
  (``bench/bare_locust.py``);
- **Locust + mlchaos's request bounds**: bare Locust whose users also get the host guard, the deadline and the
  answer cap the load child puts around every request (``bare_locust.py --bounds``), but no recording — which
  tells what those cost apart from what recording costs;
- **wrk**: the same body, connections and endpoint; a C load generator, i.e. what the endpoint can take.

For each it reports requests/s and the load generator's CPU time per request (mlchaos: the child plus this
process, whose reader thread decodes the rows and writes the recording), and the endpoint's CPU share — it must
stay well below one core under the Python generators, or the endpoint, not the generator, is what was measured.
Users send back to back (no wait).

    .venv/bin/python bench/load_overhead.py                    # writes its table into bench/README.md
    .venv/bin/python bench/load_overhead.py --reps 1 --duration 4 --no-readme
"""

from __future__ import annotations

import argparse
import json
import math
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
from benchlib import WINDOW_MARGIN_S, median_spread, stamp, write_section
from fast_load import Finished, cpu_seconds, fast_endpoint, load_spec, process_cpu

from mlchaos.experiments.load.runner import LoadRunner
from mlchaos.experiments.load.spec import LoadSpec

BARE_LOCUST = Path(__file__).with_name("bare_locust.py")
GOAL_RATIO = 0.9
GOAL_CPU_RATIO = 1.3
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
    endpoint_busy: float | None
    """The endpoint's CPU seconds per second meanwhile (1.0: one core busy); None: not measured (bare Locust's
    window is timed inside its own process)."""


@dataclass
class Series:
    label: str
    samples: list[Sample] = field(default_factory=list)

    def rps(self) -> list[float]:
        return [s.rps for s in self.samples]

    def cpu(self) -> list[float]:
        return [s.cpu_ms_per_request for s in self.samples]

    def endpoint(self) -> list[float]:
        return [s.endpoint_busy for s in self.samples if s.endpoint_busy is not None]


def run_mlchaos(spec: LoadSpec, endpoint: psutil.Process) -> Sample:
    finished = Finished()
    runner = LoadRunner(spec, on_batch=finished.add)
    runner.start()
    assert runner.started_at is not None and runner.pid is not None
    child = psutil.Process(runner.pid)
    # the same steady window as bare_locust.py: ramp-up and stop left out
    time.sleep(max(0.0, runner.started_at + WINDOW_MARGIN_S - time.time()))
    before = (time.time(), process_cpu(child) + cpu_seconds(resource.RUSAGE_SELF), process_cpu(endpoint))
    time.sleep(max(0.0, runner.started_at + spec.duration_s - WINDOW_MARGIN_S - time.time()))
    after = (time.time(), process_cpu(child) + cpu_seconds(resource.RUSAGE_SELF), process_cpu(endpoint))
    if runner.wait(timeout_s=spec.duration_s + spec.stop_grace_s + 15) is None:
        runner.stop()
        raise SystemExit("the mlchaos load child did not finish in time")
    if finished.unread:
        raise SystemExit(
            f"{finished.unread} answers recorded without a tier: the target's mapping was not read"
        )
    seconds, done = after[0] - before[0], finished.within(before[0], after[0])
    return Sample(
        done / seconds,
        1000 * (after[1] - before[1]) / max(1, done),
        finished.errors,
        (after[2] - before[2]) / seconds,
    )


def run_bare(spec_path: Path, spec: LoadSpec, *, bounds: bool = False) -> Sample:
    out = subprocess.run(
        [sys.executable, str(BARE_LOCUST), str(spec_path), *(["--bounds"] if bounds else [])],
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
    return Sample(requests / float(window["seconds"]), cpu_ms, int(window["failures"]), None)


def run_wrk(
    wrk: str, script: Path, url: str, users: int, duration_s: float, endpoint: psutil.Process
) -> Sample:
    children, endpoint_before = cpu_seconds(resource.RUSAGE_CHILDREN), process_cpu(endpoint)
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
    endpoint_busy = (process_cpu(endpoint) - endpoint_before) / duration_s
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
    return Sample(float(rate.group(1)), 1000 * cpu / max(1, requests), errors, endpoint_busy)


def ratios(a: Series, b: Series) -> tuple[list[float], list[float]]:
    """Per repetition: ``a``'s requests/s and CPU per request over ``b``'s (side by side, so drifts cancel)."""
    pairs = list(zip(a.samples, b.samples, strict=True))
    return (
        [x.rps / y.rps for x, y in pairs if y.rps],
        [x.cpu_ms_per_request / y.cpu_ms_per_request for x, y in pairs if y.cpu_ms_per_request],
    )


def table(series: list[Series], users: int, duration_s: float, reps: int) -> str:
    mlchaos, bare, bounded, wrk = series
    lines = [
        "| load generator | requests/s | × bare Locust (req/s) | CPU ms per request | × bare Locust (CPU) "
        "| endpoint CPU (cores) | non-2xx / errors |",
        "|:---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in series:
        vs = cpu_vs = "1" if s is bare else "—"
        if s in (mlchaos, bounded):
            rps_ratios, cpu_ratios = ratios(s, bare)
            vs, cpu_vs = median_spread(rps_ratios, 2), median_spread(cpu_ratios, 2)
        lines.append(
            f"| {s.label} | {median_spread(s.rps())} | {vs} | {median_spread(s.cpu(), 3)} | {cpu_vs} | "
            f"{median_spread(s.endpoint(), 2)} | {sum(x.errors for x in s.samples)} |"
        )
    rps_ratios, cpu_ratios = ratios(mlchaos, bare)
    ratio = statistics.median(rps_ratios) if rps_ratios else 0.0
    cpu_ratio = statistics.median(cpu_ratios) if cpu_ratios else math.inf
    met = "met" if ratio >= GOAL_RATIO else "**not met**"
    cpu_met = "met" if cpu_ratio <= GOAL_CPU_RATIO else "**not met**"
    own_rps, own_cpu = (statistics.median(r) if r else math.nan for r in ratios(mlchaos, bounded))
    ceiling = statistics.median(wrk.rps()) if wrk.samples else 0.0
    lines += [
        "",
        f"{users} users sending back to back for {duration_s:g} s, {reps} interleaved repetitions; median "
        f"(min–max). Goals: mlchaos ≥ {GOAL_RATIO} × bare Locust in requests/s — {met} ({ratio:.2f}); CPU per "
        f"request ≤ {GOAL_CPU_RATIO} × bare Locust's — {cpu_met} ({cpu_ratio:.2f}). The recording alone "
        f"(mlchaos against Locust with mlchaos's request bounds): {own_rps:.2f} × the requests/s, {own_cpu:.2f} × "
        f"the CPU per request. wrk reaches {ceiling:,.0f} requests/s on the same endpoint. *Endpoint CPU*: the "
        "test endpoint's CPU seconds per second while measured — far below one core under the Python "
        "generators, so they, not the endpoint, set the pace; under wrk it is the endpoint's own limit.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=8, help="concurrent users / connections (default 8)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measurement (default 8)")
    parser.add_argument("--reps", type=int, default=5, help="interleaved repetitions (default 5)")
    parser.add_argument("--no-readme", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: run scripts/install-wrk.sh (or `make bench`, which does)")
    load_before = os.getloadavg()[0]
    series = [
        Series("mlchaos (full recording)"),
        Series("bare Locust"),
        Series("Locust + mlchaos's request bounds (no recording)"),
        Series("wrk (ceiling)"),
    ]
    with fast_endpoint() as (base_url, pid), tempfile.TemporaryDirectory(prefix="mlchaos-bench-") as tmp:
        endpoint = psutil.Process(pid)
        spec = load_spec(base_url, users=args.users, duration_s=args.duration)
        url = f"{base_url}{spec.path}"
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(spec.model_dump_json(), encoding="utf-8")
        script = Path(tmp) / "post.lua"
        body = spec.requests[0].body
        script.write_text(WRK_SCRIPT.format(body=json.dumps(json.dumps(body))), encoding="utf-8")
        run_wrk(wrk, script, url, args.users, 2.0, endpoint)  # warm-up
        for rep in range(args.reps):
            series[0].samples.append(run_mlchaos(spec, endpoint))
            series[1].samples.append(run_bare(spec_path, spec))
            series[2].samples.append(run_bare(spec_path, spec, bounds=True))
            series[3].samples.append(run_wrk(wrk, script, url, args.users, args.duration, endpoint))
            print(
                f"repetition {rep + 1}/{args.reps}: "
                + ", ".join(f"{s.label} {s.rps()[-1]:.0f}/s" for s in series),
                flush=True,
            )
    text = f"{table(series, args.users, args.duration, args.reps)}\n\n{stamp(load_before)}"
    print(text)
    if not args.no_readme:
        write_section("load_overhead", text)


if __name__ == "__main__":
    main()
