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
from mlchaos.reports.html import render_html
from mlchaos.reports.junit import JUNIT_NAME, write_junit
from mlchaos.reports.run import Environment, RunData, RunReader, S, read_run
from mlchaos.reports.summary import write_summary

REPORT_NAME = "report.html"


def write_run_outputs(
    run_dir: Path,
    reader: RunReader[S],
    *,
    scenario: S | None = None,
    verdicts: Sequence[Verdict] | None = None,
) -> RunData[S]:
    """Write report.html, junit.xml and summary.json into ``run_dir``; return what they were made from.

    Called by the process that ran the experiment, so the current environment is the run's: it is recorded in
    summary.json for every later report.
    """
    here = Environment.current()
    run = read_run(run_dir, reader, scenario=scenario, verdicts=verdicts, recorded_by=here)
    write_summary(run_dir, run, recorded_by=here)
    write_junit(run_dir / JUNIT_NAME, [run], recorded_by=here)
    _write_text(run_dir / REPORT_NAME, render_html([run], rendered_by=here))
    return run


def default_report_path(run_dirs: Sequence[Path]) -> Path:
    """``RUN_DIR/report.html`` for one run; for several, ``report.html`` in the directory that holds them all."""
    if len(run_dirs) == 1:
        return run_dirs[0] / REPORT_NAME
    parents = {d.resolve().parent for d in run_dirs}
    common = parents.pop() if len(parents) == 1 else Path.cwd()
    return common / REPORT_NAME


def write_report(run_dirs: Sequence[Path], reader: RunReader[S], out: Path | None = None) -> Path:
    """Read each run directory, recompute its verdicts and write one HTML report; return its path."""
    runs = [read_run(run_dir, reader) for run_dir in run_dirs]
    path = out or default_report_path(run_dirs)
    _write_text(path, render_html(runs))
    return path


def _write_text(path: Path, text: str) -> None:
    """Write through a temporary sibling, so a viewer (or CI upload) never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
