"""The runs index: one self-contained ``index.html`` over a runs folder (``mlchaos index DIR``; every suite
refreshes the one of its ``--out`` folder).

Like the trend section of a report (:mod:`mlchaos.reports.history`), the index reads only each run's and suite's
``summary.json`` — never re-judges, never opens a journal or a parquet file — so it is cheap over years of runs
and shows exactly the numbers each report showed. Summaries are looked for at most :data:`history.MAX_DEPTH`
levels down (DIR/run, DIR/suite/run, DIR/month/suite/run); those that cannot be read as a run or a suite of this
schema version are skipped and counted on the page, never fatal. A summary reached through a symbolic link that
leads out of DIR is ignored: the index describes DIR, and ``mlchaos serve`` would refuse the link anyway.

Links are relative (``20261101-030000-suite-monthly/report.html``), so the folder can be moved, zipped, uploaded as
a CI artifact or served by ``mlchaos serve`` and the links still resolve. Like the reports, the page has no script
and a Content-Security-Policy that forbids loading anything; the trend charts are inline SVG.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment as Jinja
from jinja2 import PackageLoader, StrictUndefined
from markupsafe import Markup

from mlchaos.reports.history import History, PastRun, past_run, summary_paths, trend
from mlchaos.reports.html import number, score_text, stamp
from mlchaos.reports.run import SUMMARY_NAME, Environment
from mlchaos.reports.trend_chart import TrendPoint, score_trend_svg

INDEX_NAME = "index.html"
REPORT_NAME = "report.html"
MAX_TREND_POINTS = 12
"""Runs drawn per scenario's trend: a year of monthly runs. Every run is still listed in the table of all runs."""


@dataclass(frozen=True)
class PastSuite:
    """One suite as its summary.json recorded it."""

    name: str
    suite_dir: Path
    started_at: float | None
    status: str
    score: float | None
    scenarios: int
    passed: int


@dataclass(frozen=True)
class RunsFolder:
    """What a runs folder holds, read from its summaries."""

    directory: Path
    runs: tuple[PastRun, ...]
    suites: tuple[PastSuite, ...]
    skipped: int
    """summary.json files that are neither a run nor a suite this version can read (other versions, damaged)."""


def _past_suite(path: Path) -> PastSuite | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("schema_version") != 1 or document.get("kind") != "suite":
            return None
        score = document.get("score")
        return PastSuite(
            name=str(document["suite"]),
            suite_dir=path.parent,
            started_at=_epoch(document.get("started_at")),
            status=str(document["status"]),
            score=float(score) if isinstance(score, int | float) and not isinstance(score, bool) else None,
            scenarios=int(document["scenarios"]["total"]),
            passed=int(document["scenarios"]["passed"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _epoch(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def read_folder(directory: Path) -> RunsFolder:
    """Every run and suite under ``directory`` (see the module docstring for what is read and skipped)."""
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: not a directory (expected a runs folder, e.g. mlchaos-runs)")
    root = directory.resolve()
    runs: list[PastRun] = []
    suites: list[PastSuite] = []
    skipped = 0
    for path in summary_paths(directory):
        if not path.resolve().is_relative_to(root):
            continue
        run = past_run(path)  # the reader of --history: one notion of "a past run"
        suite = None if run is not None else _past_suite(path)
        if run is not None:
            runs.append(run)
        elif suite is not None:
            suites.append(suite)
        else:
            skipped += 1
    return RunsFolder(directory, tuple(runs), tuple(suites), skipped)


def _when(path: Path, started_at: float | None) -> float:
    """When a run or suite began; one that never began (its target was unusable) sorts by its summary's time."""
    if started_at is not None:
        return started_at
    try:
        return (path / SUMMARY_NAME).stat().st_mtime
    except OSError:
        return 0.0


def _link(directory: Path, target_dir: Path) -> str | None:
    """The relative URL of a run's or suite's report (its summary.json if it has no report)."""
    for name in (REPORT_NAME, SUMMARY_NAME):
        if (target_dir / name).is_file():
            parts = [*target_dir.relative_to(directory).parts, name]
            return "/".join(quote(part) for part in parts)
    return None


def _faults(values: dict[str, float | None]) -> list[str]:
    return [f"{fault}: {number(value, 's')}" for fault, value in values.items()]


def _run_row(folder: RunsFolder, run: PastRun, suite_names: dict[Path, str]) -> dict[str, Any]:
    return {
        "when": stamp(run.started_at),
        "scenario": run.scenario,
        "suite": suite_names.get(run.run_dir.parent, ""),
        "run_dir": str(run.run_dir.relative_to(folder.directory)),
        "status": run.status,
        "status_label": run.status.replace("_", " ").upper(),
        "score": score_text(run.score),
        "mttd": _faults(run.mttd_s),
        "mttr": _faults(run.mttr_s),
        "message": "" if run.status == "passed" else run.message,
        "link": _link(folder.directory, run.run_dir),
    }


def _trend_view(
    folder: RunsFolder, scenario: str, runs: list[PastRun], suite_names: dict[Path, str]
) -> dict[str, Any]:
    """One scenario's trend: its latest run against the ones before (the report's notion of a change), the
    score chart and the rows of the runs drawn, oldest first."""
    latest = runs[-1]
    change = trend(latest, History(tuple(runs[:-1]), 0, folder.directory))
    shown = runs[-MAX_TREND_POINTS:]
    points = [TrendPoint(_date(r.started_at), r.score, r.status) for r in shown]
    return {
        "scenario": scenario,
        "anchor": "trend-" + quote(scenario, safe=""),
        "runs": len(runs),
        "latest": _run_row(folder, latest, suite_names),
        "score_change": change.score.change.value,
        "score_before": None if change.score.before is None else score_text(change.score.before),
        "regressions": change.regressions,
        "chart": Markup(score_trend_svg(points, label=f"score trend of {scenario}")),
        "rows": [_run_row(folder, r, suite_names) for r in shown],
    }


def _date(ts: float | None) -> str:
    return "—" if ts is None else datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")


def render_index(folder: RunsFolder, *, rendered_by: Environment | None = None) -> str:
    """The index page of ``folder`` as one HTML document."""
    runs = sorted(folder.runs, key=lambda r: (_when(r.run_dir, r.started_at), r.run_dir.name))
    suites = sorted(folder.suites, key=lambda s: (_when(s.suite_dir, s.started_at), s.suite_dir.name))
    suite_names = {s.suite_dir: s.name for s in suites}
    by_scenario: dict[str, list[PastRun]] = defaultdict(list)
    for run in runs:
        by_scenario[run.scenario].append(run)
    env = Jinja(
        loader=PackageLoader("mlchaos.reports", "templates"),
        autoescape=True,  # every name and message shown comes from a summary.json
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    by = rendered_by or Environment.current()
    return env.get_template("index.html.j2").render(
        folder=folder.directory.name or str(folder.directory),
        trends=[_trend_view(folder, name, rs, suite_names) for name, rs in sorted(by_scenario.items())],
        suites=[_suite_row(folder, s) for s in reversed(suites)],
        runs=[_run_row(folder, r, suite_names) for r in reversed(runs)],
        skipped=folder.skipped,
        rendered=f"{datetime.now(tz=UTC):%Y-%m-%d %H:%M UTC} by mlchaos {by.mlchaos} on {by.host}",
    )


def _suite_row(folder: RunsFolder, suite: PastSuite) -> dict[str, Any]:
    return {
        "when": stamp(suite.started_at),
        "name": suite.name,
        "suite_dir": str(suite.suite_dir.relative_to(folder.directory)),
        "status": suite.status,
        "status_label": suite.status.replace("_", " ").upper(),
        "score": score_text(suite.score),
        "passed": f"{suite.passed} of {suite.scenarios}",
        "link": _link(folder.directory, suite.suite_dir),
    }


@dataclass(frozen=True)
class IndexWritten:
    path: Path
    runs: int
    suites: int
    skipped: int


def write_index(directory: Path, *, rendered_by: Environment | None = None) -> IndexWritten:
    """Write ``directory/index.html`` (through a temporary sibling: a viewer never sees half a page)."""
    folder = read_folder(directory)
    path = directory / INDEX_NAME
    partial = directory / f".{INDEX_NAME}.partial"
    partial.write_text(render_index(folder, rendered_by=rendered_by), encoding="utf-8")
    partial.replace(path)
    return IndexWritten(path, len(folder.runs), len(folder.suites), folder.skipped)


def describe(written: IndexWritten) -> str:
    """One line for the console: what the index lists and what it skipped."""
    skipped = f"; {written.skipped} unreadable summary.json skipped" if written.skipped else ""
    return f"index: {written.path} ({written.runs} run(s), {written.suites} suite(s){skipped})"


__all__ = [
    "INDEX_NAME",
    "IndexWritten",
    "PastSuite",
    "RunsFolder",
    "describe",
    "read_folder",
    "render_index",
    "write_index",
]
