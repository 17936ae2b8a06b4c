"""What happens when runs and suites end, beyond their own outputs: the runs index refreshed, the results published
(webhook, Pushgateway), problems of either said. None of it changes a verdict or an exit code: a run's result
stands whatever happens to the places it is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.markup import escape

from mlchaos.experiments.publish import PublishConfig, after_run, after_suite
from mlchaos.experiments.run_outcome import RunOutcome
from mlchaos.experiments.run_view import Output
from mlchaos.experiments.suite import Suite
from mlchaos.reports.index import describe as describe_index
from mlchaos.reports.index import write_index


def runs_ended(
    outcomes: Sequence[RunOutcome], publish: PublishConfig | None, *, history: Path, output: Output
) -> None:
    """Publish each run alone, compared with ``history``."""
    for outcome in outcomes:
        if outcome.report is not None:  # a run without outputs has no summary.json to publish
            after_run(outcome.run_dir, publish, history=history, output=output)


def suite_ended(
    suite: Suite,
    suite_dir: Path,
    outcomes: Sequence[RunOutcome],
    given: PublishConfig | None,
    *,
    out: Path,
    history: Path | None,
    output: Output,
) -> None:
    """Refresh ``out``'s runs index, then publish the suite once, as its file's ``publish:`` block says with the
    caller's (the command line's) settings in place of its parts."""
    refresh_index(out, output)
    reported = [o.run_dir for o in outcomes if o.report is not None]
    after_suite(suite_dir, reported, _suite_publishing(suite, given), history=history, output=output)


def publish_problem(problem: str, output: Output) -> None:
    """Say a problem of publishing (or tracing) a run, and that its result is not affected."""
    output.errors.print(f"[yellow]{escape(problem)}[/] — the run's result stands", soft_wrap=True)


def _suite_publishing(suite: Suite, given: PublishConfig | None) -> PublishConfig | None:
    if given is None or suite.publish is None:
        return given or suite.publish
    return PublishConfig(
        webhook=given.webhook or suite.publish.webhook,
        pushgateway=given.pushgateway or suite.publish.pushgateway,
    )


def refresh_index(out: Path, output: Output) -> None:
    """OUT/index.html (``mlchaos index``) lists this suite too. It is a view of the folder: failing to write it
    is said, and changes neither the suite's verdict nor its exit code."""
    try:
        output.console.print(describe_index(write_index(out)), markup=False, soft_wrap=True)
    except Exception as exc:
        output.errors.print(
            f"[yellow]could not refresh the runs index of {out}:[/] {escape(str(exc))} — the suite's results "
            "and exit code stand (`mlchaos index` writes it later)",
            soft_wrap=True,
        )
