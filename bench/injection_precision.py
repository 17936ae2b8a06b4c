"""How precisely faults take effect: from the journal's ``injected`` (and ``reverted``) to what requests saw.

One real ``mlchaos run`` against an embedded stack (started here and given to the run as an external target, so
its start-up is not part of the run), under load from mlchaos's own load child. The run's fault phase holds
three latency faults (400 ms on every reply of the primary model's toxiproxy proxy, 2 s each) and two SIGKILLs
of the primary model server. Afterwards it reads the run's journal and requests.parquet and measures:

- **latency injected → in effect**: from the journal's ``injected`` entry to the start of the first request from
  which on every request (until the revert) was slowed by the toxic (latency ≥ 95 % of it) — counting only
  answers of the primary tier, the only ones that pass that proxy;
- **latency reverted → recovered**: from ``reverted`` to the end of the first reply from which on no reply was
  slowed any more (removing the toxic releases the replies it holds at once, so that is the first sign);
- **pod kill → every request failed**: from ``injected`` to the start of the first request from which on the
  primary model answered none (the gateway falls back, so a "failed" request is one answered by a lower tier,
  or not at all); and to the *end* of the first such answer — that adds how long the gateway took to notice.

A negative delay means requests already saw the change before the journal entry was written (the entry follows
the API call that made it). The resolution is the gap between requests, about 10 ms here (3 users).

    .venv/bin/python bench/injection_precision.py              # writes its table into bench/README.md
    .venv/bin/python bench/injection_precision.py --no-readme
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from benchlib import DATASET, median_spread, stamp, write_section

from mlchaos.experiments.journal import Entry, Event, read_journal
from mlchaos.staging.endpoints import StackEndpoints
from mlchaos.staging.options import BreakerOptions, StackOptions
from mlchaos.staging.stack import EmbeddedStack

MLCHAOS = Path(sys.executable).parent / "mlchaos"
GOAL_MS = 100.0
TOXIC_MS = 400
SLOWED_S = 0.95 * TOXIC_MS / 1000
LATENCY_AT = (0.0, 4.0, 8.0)
"""Two seconds each, two seconds apart: the recovery after each revert is looked for within 1.5 s."""
KILL_AT = (12.0, 32.0)
"""Twenty seconds apart: time for supervisord to restart the model server and the breaker to close again."""


def scenario(stack: StackEndpoints) -> dict[str, Any]:
    latency = [
        {"id": f"latency-{i}", "type": "latency", "dependency": "primary_model", "latency_ms": TOXIC_MS}
        | {"at": at, "duration": 2}
        for i, at in enumerate(LATENCY_AT, 1)
    ]
    kills = [
        {"id": f"kill-{i}", "type": "pod_kill", "program": "primary-model", "at": at, "duration": 3}
        for i, at in enumerate(KILL_AT, 1)
    ]
    return {
        "name": "bench-injection-precision",
        "target": stack.as_external_target(),
        "load": {"users": 3, "wait": [0.01, 0.03], "dataset": str(DATASET)},
        "steady_state": {"window": "3s", "min_availability": 0.95},
        "faults": latency + kills,
        "recovery": "3s",
        "verifiers": [{"type": "availability", "min": 0.5}],
    }


def entry(entries: Iterable[Entry], event: Event, fault_id: str) -> Entry:
    return next(e for e in entries if e.event == event and e.fault_id == fault_id)


def from_then_on(requests: pd.DataFrame, holds: pd.Series, column: str = "start") -> float | None:
    """``column`` of the first request from which on ``holds`` is true for every request (``requests`` sorted
    by that column)."""
    if requests.empty or not holds.iloc[-1]:
        return None
    broken = (~holds).to_numpy().nonzero()[0]
    first = broken[-1] + 1 if len(broken) else 0
    return float(requests[column].iloc[first])


def measure(run_dir: Path) -> dict[str, list[float]]:
    entries = read_journal(run_dir / "journal.jsonl")
    everything = pd.read_parquet(run_dir / "requests.parquet").sort_values("start", ignore_index=True)
    everything["end"] = everything["start"] + everything["latency_ms"] / 1000
    # only primary answers pass the primary model's proxy: the toxic cannot slow the others
    requests = everything[everything["tier"] == "primary"].reset_index(drop=True)
    slowed = requests["latency_ms"] / 1000 >= SLOWED_S
    delays: dict[str, list[float]] = {
        "inject": [],
        "revert": [],
        "kill": [],
        "kill_answer": [],
        "intent": [],
    }
    for i in range(1, len(LATENCY_AT) + 1):
        injected, reverted = (
            entry(entries, Event.INJECTED, f"latency-{i}"),
            entry(entries, Event.REVERTED, f"latency-{i}"),
        )
        intent = entry(entries, Event.INJECT_INTENT, f"latency-{i}")
        revert_intent = entry(entries, Event.REVERT_INTENT, f"latency-{i}")
        # a request whose reply is in the toxic when it is removed comes back early: leave those out
        during = (requests["start"] >= intent.ts - 1) & (requests["start"] < revert_intent.ts - SLOWED_S)
        effect = from_then_on(requests[during], slowed[during])
        # by end time: removing the toxic releases the replies it holds, so a reply ending unslowed right
        # after the revert is the first sign of recovery
        by_end = requests.sort_values("end", ignore_index=True)
        after = (by_end["end"] >= reverted.ts - 1) & (by_end["end"] < reverted.ts + 1.5)
        unslowed = by_end["latency_ms"] / 1000 < SLOWED_S
        recovered = from_then_on(by_end[after], unslowed[after], "end")
        delays["intent"].append(1000 * (injected.ts - intent.ts))
        if effect is not None:
            delays["inject"].append(1000 * (effect - injected.ts))
        if recovered is not None:
            delays["revert"].append(1000 * (recovered - reverted.ts))
    for i in range(1, len(KILL_AT) + 1):
        intent, injected = (
            entry(entries, Event.INJECT_INTENT, f"kill-{i}"),
            entry(entries, Event.INJECTED, f"kill-{i}"),
        )
        before = everything[everything["end"] < intent.ts].tail(5)
        if before.empty or (before["tier"] != "primary").any():
            continue  # the primary was not serving before the kill: nothing to see fail
        not_primary = (everything["tier"] != "primary") | (everything["status"] != 200)
        around = (everything["start"] >= intent.ts - 1) & (everything["start"] < intent.ts + 1)
        effect = from_then_on(everything[around], not_primary[around])
        failed = everything[(everything["end"] >= intent.ts) & not_primary]
        delays["intent"].append(1000 * (injected.ts - intent.ts))
        if effect is not None:
            delays["kill"].append(1000 * (effect - injected.ts))
        if not failed.empty:
            delays["kill_answer"].append(1000 * (float(failed["end"].min()) - injected.ts))
    return delays


def table(delays: dict[str, list[float]]) -> str:
    rows = [
        ("latency toxic injected → every request slowed", delays["inject"], len(LATENCY_AT), True),
        ("latency toxic reverted → no request slowed", delays["revert"], len(LATENCY_AT), True),
        ("pod kill injected → every request failed over", delays["kill"], len(KILL_AT), True),
        ("pod kill injected → first failed-over answer arrived", delays["kill_answer"], len(KILL_AT), False),
    ]
    lines = ["| transition | samples | delay (ms) | goal ≤ 100 ms |", "|:---|---:|---:|:---|"]
    for label, values, planned, judged in rows:
        met = "yes" if values and max(values) <= GOAL_MS else "**no**"
        if not judged:
            met = "— (adds the gateway's reaction)"
        lines.append(f"| {label} | {len(values)}/{planned} | {median_spread(values)} | {met} |")
    lines += [
        "",
        "Median (min–max); a sample is missing when the primary tier was not serving just before the fault "
        "(nothing to see change). The injector's own API call (journal `inject_intent` → `injected`) took "
        f"{median_spread(delays['intent'])} ms.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-readme", action="store_true", help="print the table only")
    parser.add_argument(
        "--keep", type=Path, help="write the run directory into this (new or empty) directory and keep it"
    )
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    # A long primary timeout keeps slowed answers on the primary tier; a short breaker recovery brings the
    # primary back soon after each kill.
    options = StackOptions(
        primary_timeout_ms=3 * TOXIC_MS,
        feature_store_timeout_ms=1000,  # a busy machine must not push answers off the primary tier
        breaker=BreakerOptions(recovery_timeout_s=0.5, half_open_successes=1),
    )
    with EmbeddedStack(options) as stack, tempfile.TemporaryDirectory(prefix="mlchaos-bench-") as tmp:
        path = Path(tmp) / "scenario.yaml"
        path.write_text(yaml.safe_dump(scenario(stack.endpoints)), encoding="utf-8")
        out = args.keep or Path(tmp) / "runs"
        run = subprocess.run(
            [str(MLCHAOS), "run", "--out", str(out), str(path)], capture_output=True, text=True, timeout=300
        )
        run_dirs = [d for d in out.iterdir() if d.is_dir()] if out.exists() else []
        if run.returncode not in (0, 1) or len(run_dirs) != 1:
            raise SystemExit(f"mlchaos run failed (exit {run.returncode}):\n{run.stdout}\n{run.stderr}")
        delays = measure(run_dirs[0])
    text = f"{table(delays)}\n\n{stamp(load_before)}"
    print(text)
    if not args.no_readme:
        write_section("injection_precision", text)


if __name__ == "__main__":
    main()
