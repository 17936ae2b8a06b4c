"""``summary.json``: one run's result for machines (CI gates, dashboards, trend tools), with a stable schema.

Schema version 1. Fields are only ever added within a version; renaming, removing or changing the meaning of
one bumps ``schema_version``. Times are ISO 8601 in UTC (``2026-11-22T03:50:18Z``); durations are seconds;
shares are fractions 0..1; ``null`` means "not measured / not applicable", never zero::

    {
      "schema_version": 1,
      "kind": "run",                             # "run" here; a suite's summary.json says "suite" (below)
      "scenario": "feature-store-outage",        # the scenario's name
      "description": "…",
      "run_dir": "20261122-035018-feature-store-outage",   # the directory's name, not its path
      "status": "passed",                        # passed | failed | invalid | aborted | rollback_failed
      "exit_code": 0,                            # what mlchaos run exits with for this status (0, 1, 2, 3, 4)
      "message": "all 10 verifiers held",        # one line: why this status
      "passed": true,                            # status == "passed"
      "score": 1.0,                              # resilience score 0..1 (weighted share of verifiers that held);
                                                 #   null when nothing was judged (the run did not finish)
      "partial": false,                          # true: stopped by a guardrail or a signal after the baseline
                                                 #   began; verdicts and score judge what was recorded up to the
                                                 #   stop (status stays "aborted", exit_code 3)
      "stopped": null,                           # when partial: {"by": "SIGTERM" | "guardrail …",
                                                 #   "reason": "interrupted by SIGTERM", "at": "…Z"}
      "verifiers": {"total": 10, "held": 10, "failed": 0},
      "started_at": "…Z", "finished_at": "…Z", "duration_s": 40.4,   # from the journal; null if none
      "target": {"kind": "embedded" | "external", …},                # described, never a header value
      "requests": {"total": 4021, "available": 1.0, "answered": 1.0, "p50_ms": 21.3, "p99_ms": 61.0,
                   "tiers": {"primary": 0.62, "fallback": 0.38}},    # tiers: share of answered (2xx) requests
      "verdicts": [ {"verifier": "mttr", "name": "mttr (store-down)", "passed": true, "measured": 0.14,
                     "unit": "s", "target": "≤ 8s", "explanation": "…", "weight": 1.0,
                     "details": {…}, "table": null | {"title", "columns", "rows"},
                     "advice": null | {"way": "never_half_opened", "text": "…", "generic": false},
                                                 #   on a failed verdict: the way it failed and where to look
                                                 #   (generic: the verifier declares no ways of failing)
                     "judged": null | {"start": "…Z", "end": "…Z"},   # the window it judged
                     "budget": null | {"slo": 0.99, "requests": 812, "bad": 12, "allowed": 8.12,
                                       "burned": 1.48 | null}} ],
                                                 # every verdict, in the report's order (baseline steady state
                                                 #   first, after-recovery steady state last); budget: the
                                                 #   error budget its window burned (docs/verifiers.md; burned
                                                 #   null: the SLO allowed no bad request and some were bad)
      "faults": [ {"id": "store-down", "kind": "feature_store_outage", "injected_at": "…Z",
                   "reverted_at": "…Z" | null, "heals_itself": false,
                   "mttd_s": 0.0 | null, "mttr_s": 0.14 | null} ],   # null: no such verifier, or never recovered
      "phases": [ {"phase": "baseline", "requests": 1012, "available": 1.0, "p99_ms": 48.2} ],
                                                 # warmup (not judged) | baseline | fault | recovery | after,
                                                 #   as the run went
      "error_budget": [ {"name": "error_budget (run, SLO 99.50%)", "burned_pct": 0.0, "passed": true,
                         "bad": 0, "allowed": 20.1, "requests": 4021} ],   # burned_pct: 100 = all of it
      "recorded_by": {"mlchaos": "0.1.0", "python": "3.11.2", "host": "…", "platform": "…", "user": "…"}
    }

``recorded_by`` is the environment of the ``mlchaos run`` that wrote the file; ``mlchaos report`` reads it back
to show where a run ran.

A suite directory (``mlchaos suite``) has its own ``summary.json`` beside its run directories::

    {
      "schema_version": 1,
      "kind": "suite",
      "suite": "monthly",                        # the suite's name
      "description": "…",
      "suite_dir": "20261122-030000-suite-monthly",
      "unfinished_runs_rolled_back": [],      # runs under --out that died unfinished, rolled back first
      "status": "failed", "exit_code": 1,        # the worst of its scenarios'
      "passed": false,
      "score": 0.93,                             # mean of the scenarios' scores; a scenario not judged, or
                                                 #   judged partially (stopped early), counts 0
      "scenarios": {"total": 5, "passed": 4},
      "started_at": "…Z", "finished_at": "…Z",
      "runs": [ {"scenario": "…", "run_dir": "…", "status": "passed", "exit_code": 0, "score": 1.0,
                 "partial": false, "message": "…"} ],   # run_dir: relative to the suite directory; each has its own
                                                 #   summary.json with the full detail
      "failures": [ {"scenario": "…", "run_dir": "…", "verifier": "breaker", "name": "…", "measured": 0.4,
                     "unit": "s", "advice": {…}, "budget": {…} | null} ],
                                                 # every failed verdict of the suite, what to fix first first:
                                                 #   ranked by error budget burned, then by weight
      "recorded_by": {…}
    }
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mlchaos.experiments.targets import EmbeddedTarget
from mlchaos.experiments.verifiers.base import Verdict
from mlchaos.experiments.verifiers.ranking import rank_failures
from mlchaos.reports import facts
from mlchaos.reports.html import SuiteHeading, overview
from mlchaos.reports.run import SUMMARY_NAME, Environment, RunData, RunStatus, S

SCHEMA_VERSION = 1


def _target(run: RunData[S]) -> dict[str, Any]:
    target = run.scenario.target
    if isinstance(target, EmbeddedTarget):
        return {"kind": "embedded", "flags": [str(flag) for flag in target.flags]}
    return {
        "kind": target.kind,
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
        "kind": "run",
        "scenario": run.scenario.name,
        "description": run.redact(run.scenario.description),
        "run_dir": run.run_dir.name,
        "status": run.status.value,
        "exit_code": run.status.exit_code,
        "message": run.message,
        "passed": run.status == RunStatus.PASSED,
        "score": run.score,
        "partial": run.partial is not None,
        "stopped": None
        if run.partial is None
        else {
            "by": run.redact(run.partial.by),
            "reason": run.redact(run.partial.reason),
            "at": facts.iso(run.partial.at),
        },
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
        "verdicts": [_verdict(v) for v in run.verdicts],
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
        "phases": [asdict(p) for p in facts.phases(run)],
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


def suite_summary(
    suite_dir: Path,
    heading: SuiteHeading,
    runs: Sequence[RunData[S]],
    *,
    recorded_by: Environment | None = None,
) -> dict[str, Any]:
    """The summary document of a suite (see the module docstring); each run keeps its own summary.json."""
    combined = overview(runs)
    starts = [run.started_at for run in runs if run.started_at is not None]
    ends = [run.finished_at for run in runs if run.finished_at is not None]
    env = recorded_by or Environment.current()
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "suite",
        "suite": heading.name,
        "description": heading.description,
        "suite_dir": suite_dir.name,
        "unfinished_runs_rolled_back": list(heading.recovered),
        "status": combined.status.value,
        "exit_code": combined.status.exit_code,
        "passed": combined.status == RunStatus.PASSED,
        "score": combined.score,
        "scenarios": {"total": len(runs), "passed": sum(run.status == RunStatus.PASSED for run in runs)},
        "started_at": facts.iso(min(starts, default=None)),
        "finished_at": facts.iso(max(ends, default=None)),
        "runs": [
            {
                "scenario": run.scenario.name,
                "run_dir": _relative(run.run_dir, suite_dir),
                "status": run.status.value,
                "exit_code": run.status.exit_code,
                "score": run.score,
                "partial": run.partial is not None,
                "message": run.message,
            }
            for run in runs
        ],
        "failures": [
            {
                "scenario": failure.scenario,
                "run_dir": _relative(runs[failure.run].run_dir, suite_dir),
                "verifier": failure.verdict.verifier,
                "name": failure.verdict.name,
                "measured": failure.verdict.measured,
                "unit": failure.verdict.unit,
                "advice": None if failure.verdict.advice is None else asdict(failure.verdict.advice),
                "budget": None if failure.verdict.budget is None else asdict(failure.verdict.budget),
            }
            for failure in rank_failures((run.scenario.name, run.verdicts) for run in runs)
        ],
        "recorded_by": asdict(env),
    }


def _verdict(verdict: Verdict) -> dict[str, Any]:
    """A verdict as summary.json shows it: its judged window in ISO 8601, like every other time there."""
    shown = asdict(verdict)
    judged = verdict.judged
    shown["judged"] = (
        None if judged is None else {"start": facts.iso(judged.start), "end": facts.iso(judged.end)}
    )
    return shown


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def write_json(path: Path, document: dict[str, Any]) -> Path:
    # allow_nan=False: NaN is not JSON; a verifier never returns it, and if one did this should fail loudly.
    path.write_text(
        json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
    )
    return path


def write_summary(run_dir: Path, run: RunData[S], *, recorded_by: Environment | None = None) -> Path:
    return write_json(run_dir / SUMMARY_NAME, summary(run, recorded_by=recorded_by))
