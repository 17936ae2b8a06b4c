"""``summary.json``: one run's result for machines (CI gates, dashboards, trend tools), with a stable schema.

Schema version 1. Fields are only ever added within a version; renaming, removing or changing the meaning of
one bumps ``schema_version``. Times are ISO 8601 in UTC (``2026-11-22T03:50:18Z``); durations are seconds;
shares are fractions 0..1; ``null`` means "not measured / not applicable", never zero::

    {
      "schema_version": 1,
      "scenario": "feature-store-outage",        # the scenario's name
      "description": "…",
      "run_dir": "20261122-035018-feature-store-outage",   # the directory's name, not its path
      "status": "passed",                        # passed | failed | invalid | aborted | rollback_failed
      "exit_code": 0,                            # what mlchaos run exits with for this status (0, 1, 2, 3, 4)
      "message": "all 10 verifiers held",        # one line: why this status
      "passed": true,                            # status == "passed"
      "score": 1.0,                              # resilience score 0..1 (weighted share of verifiers that held);
                                                 #   null when nothing was judged (the run did not finish)
      "verifiers": {"total": 10, "held": 10, "failed": 0},
      "started_at": "…Z", "finished_at": "…Z", "duration_s": 40.4,   # from the journal; null if none
      "target": {"kind": "embedded" | "external", …},                # described, never a header value
      "requests": {"total": 4021, "available": 1.0, "answered": 1.0, "p50_ms": 21.3, "p99_ms": 61.0,
                   "tiers": {"primary": 0.62, "fallback": 0.38}},    # tiers: share of answered (2xx) requests
      "verdicts": [ {"verifier": "mttr", "name": "mttr (store-down)", "passed": true, "measured": 0.14,
                     "unit": "s", "target": "≤ 8s", "explanation": "…", "weight": 1.0,
                     "details": {…}} ],          # every verdict, in the report's order (baseline steady state
                                                 #   first, after-recovery steady state last)
      "faults": [ {"id": "store-down", "kind": "feature_store_outage", "injected_at": "…Z",
                   "reverted_at": "…Z" | null, "heals_itself": false,
                   "mttd_s": 0.0 | null, "mttr_s": 0.14 | null} ],   # null: no such verifier, or never recovered
      "error_budget": [ {"name": "error_budget (run, SLO 99.50%)", "burned_pct": 0.0, "passed": true,
                         "bad": 0, "allowed": 20.1, "requests": 4021} ],   # burned_pct: 100 = all of it
      "recorded_by": {"mlchaos": "0.1.0", "python": "3.11.2", "host": "…", "platform": "…", "user": "…"}
    }

``recorded_by`` is the environment of the ``mlchaos run`` that wrote the file; ``mlchaos report`` reads it back
to show where a run ran.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mlchaos.experiments.targets import EmbeddedTarget
from mlchaos.reports import facts
from mlchaos.reports.run import SUMMARY_NAME, Environment, RunData, RunStatus, S

SCHEMA_VERSION = 1


def _target(run: RunData[S]) -> dict[str, Any]:
    target = run.scenario.target
    if isinstance(target, EmbeddedTarget):
        return {"kind": "embedded", "flags": [str(flag) for flag in target.flags]}
    return {
        "kind": "external",
        "service_url": run.redact(target.service_url),
        "proxies": dict(target.proxies),
        "programs": list(target.programs),
        "header_names": sorted(target.headers),
    }


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def summary(run: RunData[S], *, recorded_by: Environment | None = None) -> dict[str, Any]:
    """The summary document of one run (see the module docstring for the schema)."""
    totals = facts.totals(run)
    held = sum(v.passed for v in run.verdicts)
    duration = None if run.started_at is None or run.finished_at is None else run.finished_at - run.started_at
    env = recorded_by or run.recorded_by or Environment.current()
    return {
        "schema_version": SCHEMA_VERSION,
        "scenario": run.scenario.name,
        "description": run.redact(run.scenario.description),
        "run_dir": run.run_dir.name,
        "status": run.status.value,
        "exit_code": run.status.exit_code,
        "message": run.message,
        "passed": run.status == RunStatus.PASSED,
        "score": run.score,
        "verifiers": {"total": len(run.verdicts), "held": held, "failed": len(run.verdicts) - held},
        "started_at": facts.iso(run.started_at),
        "finished_at": facts.iso(run.finished_at),
        "duration_s": duration,
        "target": _target(run),
        "requests": {
            "total": totals.requests,
            "available": totals.available,
            "answered": totals.answered,
            "p50_ms": totals.p50_ms,
            "p99_ms": totals.p99_ms,
            "tiers": totals.tiers,
        },
        "verdicts": [asdict(v) for v in run.verdicts],
        "faults": [
            {
                "id": f.window.fault_id,
                "kind": f.window.kind,
                "injected_at": facts.iso(f.window.injected_at),
                "reverted_at": facts.iso(f.window.reverted_at),
                "heals_itself": f.window.heals_itself,
                "mttd_s": None if f.mttd is None else f.mttd.measured,
                "mttr_s": None if f.mttr is None else f.mttr.measured,
            }
            for f in facts.faults(run)
        ],
        "error_budget": [
            {
                "name": v.name,
                "burned_pct": v.measured,
                "passed": v.passed,
                "bad": _int(v.details.get("bad")),
                "allowed": _float(v.details.get("allowed")),
                "requests": _int(v.details.get("requests")),
            }
            for v in facts.budgets(run)
        ],
        "recorded_by": asdict(env),
    }


def write_summary(run_dir: Path, run: RunData[S], *, recorded_by: Environment | None = None) -> Path:
    path = run_dir / SUMMARY_NAME
    document = summary(run, recorded_by=recorded_by)
    # allow_nan=False: NaN is not JSON; a verifier never returns it, and if one did this should fail loudly.
    path.write_text(
        json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
    )
    return path
