"""Writing a run's outputs: ``report.html``, ``junit.xml`` and ``summary.json`` in its directory, or one HTML
report for several runs.

``mlchaos run`` calls :func:`write_run_outputs` as each run ends; ``mlchaos report`` calls :func:`write_report`
later, on any run directories. Both read the run directory the same way (:func:`~mlchaos.reports.run.read_run`),
so a report rendered later says what the one written at the end of the run said.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mlchaos.experiments.verifiers.base import Verdict
from mlchaos.reports.history import History, read_history, trends
from mlchaos.reports.html import SuiteHeading, render_html
from mlchaos.reports.junit import JUNIT_NAME, write_junit
from mlchaos.reports.run import SUMMARY_NAME, Environment, RunData, RunReader, S, read_run
from mlchaos.reports.summary import suite_summary, write_json, write_summary

REPORT_NAME = "report.html"


def _html(
    runs: Sequence[RunData[S]],
    history_dir: Path | None,
    *,
    rendered_by: Environment | None = None,
    suite: SuiteHeading | None = None,
) -> str:
    history: History | None = None
    if history_dir is not None:
        history = read_history(history_dir, exclude=[run.run_dir for run in runs])
    return render_html(
        runs,
        rendered_by=rendered_by,
        trends=None if history is None else trends(runs, history),
        history=history,
        suite=suite,
    )


def write_run_outputs(
    run_dir: Path,
    reader: RunReader[S],
    *,
    scenario: S | None = None,
    verdicts: Sequence[Verdict] | None = None,
    history: Path | None = None,
) -> RunData[S]:
    """Write report.html, junit.xml and summary.json into ``run_dir``; return what they were made from.

    Called by the process that ran the experiment, so the current environment is the run's: it is recorded in
    summary.json for every later report. With ``history`` (a folder of earlier runs) the report shows trends.
    """
    here = Environment.current()
    run = read_run(run_dir, reader, scenario=scenario, verdicts=verdicts, recorded_by=here)
    write_summary(run_dir, run, recorded_by=here)
    write_junit(run_dir / JUNIT_NAME, [run], recorded_by=here)
    _write_text(run_dir / REPORT_NAME, _html([run], history, rendered_by=here))
    return run


def write_suite_outputs(
    suite_dir: Path,
    runs: Sequence[RunData[S]],
    heading: SuiteHeading,
    *,
    history: Path | None = None,
) -> Path:
    """The suite's combined report.html, junit.xml (a testsuite per scenario) and summary.json (kind "suite")
    in ``suite_dir``, from runs already read (each run directory has its own outputs too). Returns the report."""
    here = Environment.current()
    write_json(suite_dir / SUMMARY_NAME, suite_summary(suite_dir, heading, runs, recorded_by=here))
    write_junit(suite_dir / JUNIT_NAME, runs, recorded_by=here)
    path = suite_dir / REPORT_NAME
    _write_text(path, _html(runs, history, rendered_by=here, suite=heading))
    return path


def default_report_path(run_dirs: Sequence[Path]) -> Path:
    """``RUN_DIR/report.html`` for one run; for several, ``report.html`` in the directory that holds them all."""
    if len(run_dirs) == 1:
        return run_dirs[0] / REPORT_NAME
    parents = {d.resolve().parent for d in run_dirs}
    common = parents.pop() if len(parents) == 1 else Path.cwd()
    return common / REPORT_NAME


def write_report(
    run_dirs: Sequence[Path], reader: RunReader[S], out: Path | None = None, *, history: Path | None = None
) -> Path:
    """Read each run directory, recompute its verdicts and write one HTML report; return its path."""
    runs = [read_run(run_dir, reader) for run_dir in run_dirs]
    path = out or default_report_path(run_dirs)
    _write_text(path, _html(runs, history))
    return path


def _write_text(path: Path, text: str) -> None:
    """Write through a temporary sibling, so a viewer (or CI upload) never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
