"""How accurate a measured MTTR is, against recovery times known in advance (1, 3 and 10 s).

For each delay, one real ``mlchaos run`` on an embedded stack whose primary model server serves only
``restart_delay_s`` after its process starts (``StackOptions.restart_delay_s``, as in tests/engine/test_truth.py).
The run SIGKILLs the server twice; supervisord restarts it at once, so the primary tier is back ``delay`` seconds
after each kill — the ground truth. A short breaker recovery timeout lets the gateway notice within a fraction of
a second. The ``mttr`` verifier (steady state: ≥ 95 % primary, over 2 s windows) measures each kill's MTTR.

Besides the verifier's figure it reports, from requests.parquet, when the first primary answer after each kill
came back: if the server took longer than ``delay`` to start (it must also train its model), that is the real
recovery, and a gap between the two columns is the verifier's error, not the stack's.

    .venv/bin/python bench/mttr_accuracy.py             # writes its table into bench/README.md
    .venv/bin/python bench/mttr_accuracy.py 1 --no-readme
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from benchlib import DATASET, median_spread, stamp, write_section

from mlchaos.experiments.journal import Event, read_journal

MLCHAOS = Path(sys.executable).parent / "mlchaos"
DELAYS_S = (1.0, 3.0, 10.0)
KILLS = 2
GOAL_S = 0.5
WINDOW_S = 2.0


@dataclass
class Kill:
    """One kill: the verifier's MTTR, and when a primary answer really came back (``None``: never)."""

    mttr_s: float | None
    first_primary_s: float | None


@dataclass
class Recovery:
    delay_s: float
    kills: list[Kill]

    def mttr(self) -> list[float]:
        return [k.mttr_s for k in self.kills if k.mttr_s is not None]

    def first_primary(self) -> list[float]:
        return [k.first_primary_s for k in self.kills if k.first_primary_s is not None]

    def errors_vs_observed(self) -> list[float]:
        return [
            k.mttr_s - k.first_primary_s
            for k in self.kills
            if k.mttr_s is not None and k.first_primary_s is not None
        ]


def scenario(delay_s: float) -> dict[str, Any]:
    # the kill's window: recovery plus the verifier's steady window, with room for a server slower to start
    fault_s = delay_s + 15
    return {
        "name": f"bench-mttr-{delay_s:g}s",
        "target": {
            "kind": "embedded",
            "restart_delay_s": delay_s,
            "breaker": {"recovery_timeout_s": 0.2, "half_open_successes": 1},
        },
        "load": {"users": 3, "wait": [0.02, 0.05], "dataset": str(DATASET)},
        "steady_state": {"window": "3s", "min_availability": 0.95, "min_tier_share": {"primary": 0.95}},
        "faults": [
            {"id": f"kill-{i}", "type": "pod_kill", "program": "primary-model", "at": i * (fault_s + 2)}
            | {"duration": fault_s}
            for i in range(KILLS)
        ],
        "recovery": "3s",
        "verifiers": [
            {"type": "mttr", "fault": f"kill-{i}", "max": 60, "window": WINDOW_S} for i in range(KILLS)
        ],
    }


def measure(delay_s: float, workdir: Path) -> Recovery:
    path = workdir / f"mttr-{delay_s:g}.yaml"
    path.write_text(yaml.safe_dump(scenario(delay_s)), encoding="utf-8")
    out = workdir / f"runs-{delay_s:g}"
    run = subprocess.run(
        [str(MLCHAOS), "run", "--out", str(out), str(path)], capture_output=True, text=True, timeout=300
    )
    run_dirs = [d for d in out.iterdir() if d.is_dir()] if out.exists() else []
    if run.returncode not in (0, 1) or len(run_dirs) != 1:
        raise SystemExit(f"mlchaos run failed (exit {run.returncode}):\n{run.stdout}\n{run.stderr}")
    run_dir = run_dirs[0]
    verdicts = json.loads((run_dir / "verdicts.json").read_text(encoding="utf-8"))["verdicts"]
    mttr = {v["name"]: v["measured"] for v in verdicts if v["verifier"] == "mttr"}
    requests = pd.read_parquet(run_dir / "requests.parquet")
    primary = requests[(requests["status"] == 200) & (requests["tier"] == "primary")]
    kills = []
    for entry in read_journal(run_dir / "journal.jsonl"):
        if entry.event == Event.INJECTED:
            after = primary[primary["start"] > entry.ts + 0.1]  # past the requests already in flight
            measured = next(
                (m for name, m in mttr.items() if entry.fault_id and entry.fault_id in name), None
            )
            kills.append(
                Kill(
                    float(measured) if measured is not None else None,
                    float(after["start"].min()) - entry.ts if not after.empty else None,
                )
            )
    return Recovery(delay_s, kills)


def table(results: list[Recovery]) -> str:
    lines = [
        "| restart delay set (s) | kills | primary back after (s) | measured MTTR (s) | MTTR − primary back (s) "
        "| MTTR − delay set (s) | goal ±0.5 s |",
        "|---:|---:|---:|---:|---:|---:|:---|",
    ]
    for r in results:
        errors = r.errors_vs_observed()
        met = "yes" if len(errors) == KILLS and all(abs(e) <= GOAL_S for e in errors) else "**no**"
        lines.append(
            f"| {r.delay_s:g} | {len(r.mttr())}/{KILLS} | {median_spread(r.first_primary(), 2)} | "
            f"{median_spread(r.mttr(), 2)} | {median_spread(errors, 2)} | "
            f"{median_spread([m - r.delay_s for m in r.mttr()], 2)} | {met} |"
        )
    lines += [
        "",
        "Median (min–max) over the kills of one run per delay, from each kill's `injected` entry. *Primary back*: "
        "the first request the primary tier answered after the kill (requests.parquet) — the real recovery; it "
        "exceeds the delay set when the server needs longer than that to start and train its model. The goal is "
        "judged on MTTR − primary back.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("delays", nargs="*", type=float, help="restart delays in seconds (default 1 3 10)")
    parser.add_argument("--no-readme", action="store_true", help="print the table only")
    parser.add_argument("--keep", type=Path, help="write scenarios and run directories here and keep them")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mlchaos-bench-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        results = []
        for delay in args.delays or DELAYS_S:
            results.append(measure(delay, workdir))
            print(f"restart delay {delay:g} s: {results[-1].kills}")
    text = f"{table(results)}\n\n{stamp(load_before)}"
    print(text)
    if not args.no_readme:
        write_section("mttr_accuracy", text)


if __name__ == "__main__":
    main()
