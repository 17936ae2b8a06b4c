"""How report time and memory grow with a run's size: 10k, 100k, 1M and 10M synthetic request records.

For each size it writes a synthetic run directory (500 requests/s, so 1M records is a 33-minute run; a feature
store outage over 30 % of it; probes every 250 ms), then, in a fresh process, does what the end of ``mlchaos run``
does: read the run directory, run every registered verifier, write report.html, junit.xml and summary.json.
It measures that step's wall time and the process's peak RSS (imports included: ``VmHWM``, the high-water mark
of this process's own memory — ``ru_maxrss`` would count the parent's pages from before the ``exec``), and
writes the table into bench/README.md between its BENCH markers. Goals (issue 16): 10M records in ≤ 30 s and
≤ 1 GiB on 2 cores.

    .venv/bin/python bench/report_scaling.py            # all sizes, updates bench/README.md
    .venv/bin/python bench/report_scaling.py 10000      # some sizes only, prints the table
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from benchlib import stamp, write_section

from mlchaos.experiments.journal import JOURNAL_NAME, Entry, Event
from mlchaos.experiments.records import PROBE_SCHEMA, REQUEST_SCHEMA

SIZES = (10_000, 100_000, 1_000_000, 10_000_000)
RATE = 500.0
GOAL_S, GOAL_MB = 30.0, 1024.0
T0 = 1_790_000_000.0
VERIFIERS = [
    {"type": "availability"},
    {"type": "breaker", "dependency": "feature_store", "fault": "f"},
    {"type": "calibration"},
    {"type": "error_budget"},
    {"type": "fallback_engaged", "fault": "f", "tiers": ["fallback"]},
    {"type": "fallback_order", "fault": "f"},
    {"type": "latency", "max_ms": 100},
    {"type": "load_shedding", "admitted_p99_ms": 100},
    {"type": "mttd", "fault": "f", "max": 2},
    {"type": "mttr", "fault": "f", "max": 10},
    {"type": "quality", "min_accuracy": 0.8},
    {"type": "steady_state"},
    {"type": "tier_share", "tiers": ["primary", "fallback"], "min": 0.95},
]


def write_run(directory: Path, n: int) -> None:
    duration = n / RATE
    fault_start, fault_end = 0.1 * duration, 0.4 * duration
    rng = np.random.default_rng(n)
    t = np.sort(rng.uniform(0, duration, n))
    in_fault = (t >= fault_start) & (t < fault_end)
    status = np.where(rng.random(n) < 0.002, 503, 200).astype(np.int32)
    canary = rng.random(n) < 0.05
    requests: dict[str, Any] = {
        "start": T0 + t,
        "latency_ms": np.where(in_fault, rng.exponential(8, n), rng.exponential(25, n)),
        "status": status,
        "tier": np.where(status != 200, None, np.where(in_fault, "fallback", "primary")).tolist(),
        "confidence": rng.random(n),
        "prediction": np.where(rng.random(n) < 0.9, "legit", "fraud").tolist(),
        "error": np.where(status != 200, "HTTP 503: feature store unavailable", None).tolist(),
        "label": np.where(canary, "legit", None).tolist(),
    }
    # columns the synthetic run does not model (input faults, scores, shedding) are null, as in clean traffic
    columns = {f.name: requests.get(f.name, pa.nulls(n, f.type)) for f in REQUEST_SCHEMA}
    pq.write_table(
        pa.table(columns, schema=REQUEST_SCHEMA), directory / "requests.parquet", compression="zstd"
    )
    ticks = np.arange(0, duration, 0.25)
    state = np.where((ticks >= fault_start + 0.3) & (ticks < fault_end + 0.5), "open", "closed")
    opened = (ticks >= fault_start + 0.3).astype(float)
    probes = {
        "ts": np.concatenate([T0 + ticks] * 3),
        "check": ["ready"] * len(ticks)
        + ["breaker:feature_store"] * len(ticks)
        + ["transitions:feature_store:closed>open"] * len(ticks),
        "ok": np.concatenate([state == "closed", state == "closed", np.ones(len(ticks), bool)]),
        "value": ["200"] * len(ticks) + state.tolist() + [None] * len(ticks),
        "latency_ms": np.ones(3 * len(ticks)),
        "error": [None] * (3 * len(ticks)),
        "number": np.concatenate([np.full(2 * len(ticks), np.nan), opened]),
    }
    pq.write_table(pa.table(probes, schema=PROBE_SCHEMA), directory / "probes.parquet")
    marks = [(-1.0, Event.RUN_STARTED, {}), (0.0, Event.PHASE, {"phase": "baseline"})]
    marks += [(fault_start, Event.PHASE, {"phase": "fault"})]
    marks += [
        (fault_start, Event.INJECT_INTENT, {"fault_id": "f", "kind": "feature_store_outage", "undo": {}})
    ]
    marks += [(fault_start, Event.INJECTED, {"fault_id": "f", "kind": "feature_store_outage"})]
    marks += [(fault_end, Event.PHASE, {"phase": "recovery"}), (fault_end, Event.REVERTED, {"fault_id": "f"})]
    marks += [(0.9 * duration, Event.PHASE, {"phase": "after"}), (duration, Event.PHASE, {"phase": "end"})]
    marks += [(duration + 0.1, Event.RUN_FINISHED, {"detail": "rollback ok"})]
    entries = [Entry(seq=i, ts=T0 + at, event=e, **f) for i, (at, e, f) in enumerate(marks, 1)]
    text = "".join(entry.model_dump_json(exclude_none=True) + "\n" for entry in entries)
    (directory / JOURNAL_NAME).write_text(text, encoding="utf-8")
    scenario = {
        "name": f"bench-{n}",
        "target": "embedded",
        "load": {"users": 50, "body": {"amount": 1}},
        "steady_state": {
            "window": 0.1 * duration,
            "min_availability": 0.99,
            "min_tier_share": {"primary": 0.95},
        },
        "faults": [{"id": "f", "type": "feature_store_outage", "at": 0, "duration": fault_end - fault_start}],
        "recovery": 0.5 * duration,
        "verifiers": VERIFIERS,
    }
    (directory / "scenario.yaml").write_text(yaml.safe_dump(scenario), encoding="utf-8")


def child(run_dir: Path) -> None:
    """The measured step, in its own process so its peak RSS is its own."""
    from mlchaos.experiments.run_reader import RUN_READER
    from mlchaos.reports import write_run_outputs

    started, cpu_started = time.perf_counter(), time.process_time()
    run = write_run_outputs(run_dir, RUN_READER)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    status = Path("/proc/self/status").read_text(encoding="ascii")
    peak_mb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024
    html = (run_dir / "report.html").stat().st_size / 1e6
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_s": cpu,
                "peak_mb": peak_mb,
                "html_mb": html,
                "verdicts": len(run.verdicts),
            }
        )
    )


def measure(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="mlchaos-bench-") as tmp:
        run_dir = Path(tmp)
        write_run(run_dir, n)
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(run_dir)], capture_output=True, text=True
        )
        if out.returncode != 0:
            raise SystemExit(out.stderr)
        result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
        result["process_s"] = time.perf_counter() - started
        return result


def table(results: dict[int, dict[str, float]]) -> str:
    lines = [
        "| requests | verifiers + report (s) | its CPU (s) | whole process (s) | peak RSS (MB) "
        "| report.html (MB) | goal met |",
        "|---:|---:|---:|---:|---:|---:|:---|",
    ]
    for n, r in results.items():
        met = "yes" if r["seconds"] <= GOAL_S and r["peak_mb"] <= GOAL_MB else "**no**"
        lines.append(
            f"| {n:,} | {r['seconds']:.2f} | {r['cpu_s']:.2f} | {r['process_s']:.2f} | {r['peak_mb']:.0f} "
            f"| {r['html_mb']:.2f} | {met} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return
    if argv[:1] == ["--child"]:
        child(Path(argv[1]))
        return
    load_before = os.getloadavg()[0]
    sizes = [int(a) for a in argv] or list(SIZES)
    results = {n: measure(n) for n in sizes}
    text = f"{table(results)}\n\n{stamp(load_before)}"
    print(text)
    if not argv:
        write_section("report_scaling", text)


if __name__ == "__main__":
    main(sys.argv[1:])
