"""The HTML report: one self-contained file for one run or several, rendered with Jinja2, autoescaping on.

Self-contained means the page makes no request when it is viewed: styles are inline, charts are inline SVG, there
are no scripts and no web fonts, and a Content-Security-Policy (``default-src 'none'``) makes the browser refuse
anything else — so it opens the same from ``file://``, a CI artifact store or a mail attachment.

Everything shown is escaped by Jinja2; the only markup passed through unescaped is the chart SVG, which
matplotlib escapes itself (see :mod:`mlchaos.reports.charts`). This module turns runs into plain view rows (all
formatting in Python, where it is tested); the template only lays them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment as Jinja
from jinja2 import PackageLoader, StrictUndefined
from markupsafe import Markup

from mlchaos.experiments.verifiers.base import BudgetBurn, Verdict
from mlchaos.experiments.verifiers.ranking import rank_failures
from mlchaos.reports import facts
from mlchaos.reports.charts import timeline_svg
from mlchaos.reports.history import Delta, History, PastRun, ScenarioTrend
from mlchaos.reports.run import Environment, RunData, RunStatus, S
from mlchaos.reports.series import timeline

STATUS_LABELS = {
    RunStatus.PASSED: "PASSED",
    RunStatus.FAILED: "FAILED",
    RunStatus.INVALID: "INVALID",
    RunStatus.ABORTED: "ABORTED",
    RunStatus.ROLLBACK_FAILED: "ROLLBACK FAILED",
}


def number(value: float | None, unit: str = "") -> str:
    """A measured value as people read it: ``99.87 %``, ``0.14 s``, ``1,234 ms``; ``—`` when nothing was measured."""
    if value is None:
        return "—"
    if unit == "%":
        return f"{value:.2f} %"
    size = abs(value)
    text = f"{value:,.0f}" if size >= 100 else f"{value:.1f}" if size >= 10 else f"{value:.2f}"
    return f"{text} {unit}".strip()


def share(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def score_text(score: float | None) -> str:
    return "—" if score is None else f"{score:.0%}"


def seconds(value: float | None) -> str:
    return "—" if value is None else f"+{value:.1f}s" if value >= 0 else f"{value:.1f}s"


def stamp(ts: float | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _cell(value: str | float | int | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return number(value) if isinstance(value, float) else value


def _verdict_row(verdict: Verdict, redact: Any) -> dict[str, Any]:
    details = [
        (k, number(v) if isinstance(v, float) else "—" if v is None else str(v))
        for k, v in verdict.details.items()
    ]
    table = verdict.table
    return {
        "table": None
        if table is None
        else {
            "title": redact(table.title),
            "columns": [redact(c) for c in table.columns],
            "rows": [[redact(_cell(c)) for c in row] for row in table.rows],
        },
        "passed": verdict.passed,
        "name": verdict.name,
        "measured": number(verdict.measured, verdict.unit),
        "target": verdict.target,
        "explanation": verdict.explanation,
        "weight": f"{verdict.weight:g}",
        "details": details,
        "advice": _advice(verdict, redact),
    }


def _advice(verdict: Verdict, redact: Any) -> dict[str, Any] | None:
    """Where to look, shown beside a failed verdict (none on a passing one)."""
    advice = verdict.advice
    if verdict.passed or advice is None:
        return None
    return {"way": advice.way, "text": redact(advice.text), "generic": advice.generic}


def burned_text(budget: BudgetBurn | None) -> str:
    """``240 % of the budget (12 bad of 5.0 allowed, SLO 99.00 %)``; ``—`` without an SLO measure."""
    if budget is None:
        return "—"
    shown = "all of a zero budget" if budget.burned is None else f"{budget.burned:.0%} of the budget"
    return f"{shown} ({budget.bad:,} bad of {budget.allowed:.1f} allowed, SLO {budget.slo:.2%})"


def failures_view(runs: Sequence[RunData[S]]) -> list[dict[str, Any]]:
    """Every failed verdict of ``runs``, ranked by the error budget burned in its window (then by weight)."""
    ranked = rank_failures((run.scenario.name, run.verdicts) for run in runs)
    return [
        {
            "scenario": failure.scenario,
            "anchor": f"run-{failure.run + 1}",  # as run_view numbers them
            "name": failure.verdict.name,
            "measured": number(failure.verdict.measured, failure.verdict.unit),
            "burned": burned_text(failure.verdict.budget),
            "advice": _advice(failure.verdict, runs[failure.run].redact),
        }
        for failure in ranked
    ]


def _verdict_cell(verdict: Verdict | None) -> dict[str, Any] | None:
    if verdict is None:
        return None
    return {
        "passed": verdict.passed,
        "measured": number(verdict.measured, verdict.unit),
        "target": verdict.target,
    }


def _budget_row(verdict: Verdict) -> dict[str, Any]:
    burned = verdict.measured
    return {
        "name": verdict.name,
        "passed": verdict.passed,
        "burned": number(burned, "%"),
        "bar": 0.0 if burned is None else min(100.0, max(0.0, burned)),
        "target": verdict.target,
        "explanation": verdict.explanation,
    }


def _facts(run: RunData[S], totals: facts.RequestTotals) -> list[tuple[str, str]]:
    env = run.recorded_by
    not_recorded = "not recorded (summary.json is written at the end of mlchaos run)"
    duration = None if run.started_at is None or run.finished_at is None else run.finished_at - run.started_at
    return [
        ("scenario", run.scenario.name),
        ("description", run.redact(run.scenario.description) or "—"),
        ("run directory", run.run_dir.name),
        ("started", stamp(run.started_at)),
        ("finished", stamp(run.finished_at)),
        ("duration", "—" if duration is None else f"{duration:.1f} s"),
        *[(f"target: {name}", value) for name, value in facts.target_rows(run)],
        ("requests recorded", f"{totals.requests:,}"),
        ("probe rounds recorded", f"{facts.probe_count(run):,}"),
        ("mlchaos", env.mlchaos if env else not_recorded),
        ("python", env.python if env else not_recorded),
        ("host", env.host if env else not_recorded),
        ("platform", env.platform if env else not_recorded),
    ]


def run_view(run: RunData[S], index: int) -> dict[str, Any]:
    """Everything the template shows of one run, formatted."""
    totals = facts.totals(run)
    zero = facts.zero(run)
    recording = run.recording
    chart = None
    if not recording.requests.empty or not recording.probes.empty:
        phases = [(p.phase.value, p.start - zero, p.end - zero) for p in recording.phases]
        faults = [
            (f.fault_id, f.injected_at - zero, (f.reverted_at or recording.ended_at) - zero)
            for f in recording.faults
        ]
        svg = timeline_svg(
            timeline(recording, zero), phases=phases, faults=faults, label=f"timeline of {run.scenario.name}"
        )
        chart = Markup(svg)  # trusted: matplotlib escapes every text it writes (see the module docstring)
    held = sum(v.passed for v in run.verdicts)
    return {
        "anchor": f"run-{index}",
        "name": run.scenario.name,
        "description": run.redact(run.scenario.description),
        "status": run.status.value,
        "status_label": STATUS_LABELS[run.status],
        "message": run.message,
        "partial": None
        if run.partial is None
        else {
            "by": run.redact(run.partial.by),
            "at": stamp(run.partial.at),
            "offset": seconds(run.partial.at - zero),
        },
        "score": score_text(run.score),
        "held": held,
        "total": len(run.verdicts),
        "chart": chart,
        "cards": [
            ("requests", f"{totals.requests:,}"),
            ("available", share(totals.available)),
            ("p50 / p99", f"{number(totals.p50_ms, 'ms')} / {number(totals.p99_ms, 'ms')}"),
            ("tiers (answered)", ", ".join(f"{t} {s:.0%}" for t, s in totals.tiers.items()) or "—"),
        ],
        "verdicts": [_verdict_row(v, run.redact) for v in run.verdicts],
        "faults": [
            {
                "id": f.window.fault_id,
                "kind": f.window.kind,
                "injected": seconds(f.injected_s),
                "reverted": seconds(f.reverted_s) if f.reverted_s is not None else "never",
                "heals": "heals itself" if f.window.heals_itself else "needs the revert",
                "mttd": _verdict_cell(f.mttd),
                "mttr": _verdict_cell(f.mttr),
            }
            for f in facts.faults(run)
        ],
        "budgets": [_budget_row(v) for v in facts.budgets(run)],
        "errors": [
            {"error": e.error, "count": f"{e.count:,}", "first": seconds(e.first_s)}
            for e in facts.top_errors(run)
        ],
        "facts": _facts(run, totals),
        "journal": [
            {
                "at": seconds(line.at_s),
                "event": line.event,
                "fault": line.fault_id or "",
                "detail": line.detail or "",
            }
            for line in facts.journal_lines(run)
        ],
        "scenario_text": run.scenario_text,
    }


def _delta_cell(delta: Delta, unit: str) -> dict[str, str]:
    """``now`` with the change since last time, e.g. ``2.10 s`` / ``was 0.40 s`` / class ``worse``."""

    def shown(value: float | None) -> str:
        return score_text(value) if unit == "%" else number(value, unit)

    was = "first run" if delta.before is None else f"was {shown(delta.before)}"
    return {"now": shown(delta.now), "was": was, "change": delta.change.value}


def _past_row(run: PastRun, faults: list[str], phases: list[str]) -> dict[str, Any]:
    return {
        "when": stamp(run.started_at),
        "run_dir": run.run_dir.name,
        "status": run.status,
        "score": score_text(run.score),
        "mttr": [number(run.mttr_s.get(f), "s") if f in run.mttr_s else "—" for f in faults],
        "p99": [number(run.p99_ms.get(p), "ms") for p in phases],
    }


def trend_view(trend: ScenarioTrend) -> dict[str, Any]:
    """The trend table of one scenario: earlier runs (oldest first), this run, and the change since the last."""
    faults, phases = list(trend.current.mttr_s), list(trend.current.p99_ms)
    return {
        "faults": faults,
        "phases": phases,
        "earlier": [_past_row(run, faults, phases) for run in trend.earlier],
        "current": _past_row(trend.current, faults, phases),
        "score": _delta_cell(trend.score, "%"),
        "mttr": [_delta_cell(trend.mttr_s[f], "s") for f in faults],
        "p99": [_delta_cell(trend.p99_ms[p], "ms") for p in phases],
        "regressions": trend.regressions,
        "first": not trend.earlier,
    }


@dataclass(frozen=True)
class Overview:
    status: RunStatus
    score: float | None
    """The suite's score: the mean of the runs' scores, a run without verdicts — or with partial ones, stopped
    early — counting 0 (as ``mlchaos run``)."""


def overview(runs: Sequence[RunData[S]]) -> Overview:
    order = list(RunStatus)
    worst = max((run.status for run in runs), key=order.index)
    scores = [0.0 if run.partial else run.score or 0.0 for run in runs]
    return Overview(worst, sum(scores) / len(scores) if scores else None)


@dataclass(frozen=True)
class SuiteHeading:
    """Shown above a suite's combined report: its name and where its scenarios came from."""

    name: str
    description: str
    source: str
    recovered: tuple[str, ...] = ()
    """Unfinished runs found under the suite's output folder and rolled back before it started, one line each."""


def render_html(
    runs: Sequence[RunData[S]],
    *,
    rendered_by: Environment | None = None,
    trends: Sequence[ScenarioTrend] | None = None,
    history: History | None = None,
    suite: SuiteHeading | None = None,
) -> str:
    """The report of ``runs`` (one or more) as one HTML document; with ``trends`` (one per run, in order), each
    run also shows how it compares with its earlier runs in ``history``."""
    if not runs:
        raise ValueError("a report needs at least one run")
    env = Jinja(
        loader=PackageLoader("mlchaos.reports", "templates"),
        autoescape=True,  # always, whatever the template's name: every value shown comes from a run
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    summary = overview(runs)
    views = [run_view(run, i) for i, run in enumerate(runs, start=1)]
    if trends is not None:
        if len(trends) != len(views):
            raise ValueError("render_html needs one trend per run")
        for view, trend in zip(views, trends, strict=True):
            view["trend"] = trend_view(trend)
    else:
        for view in views:
            view["trend"] = None
    regressions = [(t.scenario, r) for t in trends or () for r in t.regressions]
    held = sum(v["held"] for v in views)
    total = sum(v["total"] for v in views)
    by = rendered_by or Environment.current()
    title = suite.name if suite else views[0]["name"] if len(views) == 1 else f"{len(views)} scenarios"
    return env.get_template("report.html.j2").render(
        title=title,
        runs=views,
        status=summary.status.value,
        status_label=STATUS_LABELS[summary.status],
        score=score_text(summary.score),
        held=held,
        total=total,
        combined=len(views) > 1,
        passed_runs=sum(run.status == RunStatus.PASSED for run in runs),
        failures=failures_view(runs) if len(runs) > 1 else [],
        suite=suite,
        history=None
        if history is None
        else {
            "directory": str(history.directory),
            "runs": len(history.runs),
            "skipped": history.skipped,
            "regressions": regressions,
        },
        rendered=f"{datetime.now(tz=UTC):%Y-%m-%d %H:%M UTC} by mlchaos {by.mlchaos} on {by.host}",
    )
