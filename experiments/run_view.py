"""What running scenarios shows a person, after each run and at the end: verdicts, score, the summary table.

Rendering only: :mod:`mlchaos.experiments.runs` decides, this prints (the live progress of a run is
:class:`~mlchaos.experiments.console.ConsoleDisplay`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table

from mlchaos.experiments.console import RedactingConsole, verdict_table
from mlchaos.experiments.errors import ExitCode
from mlchaos.experiments.run_outcome import RunOutcome
from mlchaos.experiments.verifiers import resilience_score
from mlchaos.experiments.verifiers.base import BudgetBurn, Verdict
from mlchaos.experiments.verifiers.ranking import rank_failures


@dataclass(frozen=True)
class Output:
    """Where a run says what it does: ``console`` for progress and results, ``errors`` for problems.

    The CLI passes its terminal consoles; a library caller passes nothing and gets :meth:`quiet`."""

    console: Console
    errors: Console

    @classmethod
    def quiet(cls) -> Output:
        return cls(RedactingConsole(quiet=True), RedactingConsole(stderr=True, quiet=True))


def score_text(outcome: RunOutcome) -> str:
    score = resilience_score(outcome.verdicts)
    if score is None:
        return "no score (no verdicts)"
    held = sum(v.passed for v in outcome.verdicts)
    return f"resilience score {score:.0%} ({held} of {len(outcome.verdicts)} verifiers held)"


def print_result(console: Console, name: str, outcome: RunOutcome) -> None:
    """One run's verdicts (partial ones said so) and its one-line result."""
    if outcome.verdicts:
        title = f"{name}: {score_text(outcome)}"
        if (partial := outcome.partial) is not None:
            at = datetime.fromtimestamp(partial.at).strftime("%H:%M:%S")
            stopped = f"PARTIAL — stopped by {partial.by} at {at}"
            title = f"{name}: {stopped}; {score_text(outcome)}"
        console.print(verdict_table(title, outcome.verdicts))
        for line in advice_lines(outcome.verdicts):
            console.print(line, soft_wrap=True)
    style = "green" if outcome.exit_code == ExitCode.OK else "red"
    # soft_wrap: the message names failed verifiers and measured values; CI logs are grepped for it whole.
    console.print(f"[{style}]{name}: {outcome.message}[/]", soft_wrap=True)


def advice_lines(verdicts: list[Verdict]) -> list[str]:
    """One line per failed verdict: where to look (console markup; the texts escaped)."""
    lines = []
    for verdict in verdicts:
        if verdict.passed or verdict.advice is None:
            continue
        generic = " (generic)" if verdict.advice.generic else ""
        lines.append(
            f"[red]✗ {escape(verdict.name)}[/] — [bold]where to look{generic}:[/] {escape(verdict.advice.text)}"
        )
    return lines


def burned(budget: BudgetBurn | None) -> str:
    if budget is None:
        return "—"
    return "all of a zero budget" if budget.burned is None else f"{budget.burned:.0%}"


def failures_table(outcomes: list[RunOutcome]) -> Table | None:
    """The failed verdicts of several runs, what to fix first first: by error budget burned, then by weight."""
    ranked = rank_failures((outcome.scenario, outcome.verdicts) for outcome in outcomes)
    if not ranked:
        return None
    table = Table(title="What to fix first (by error budget burned)", title_justify="left")
    for column in ("#", "scenario", "verifier", "budget burned", "where to look"):
        table.add_column(column, justify="right" if column == "#" else "left")
    for position, failure in enumerate(ranked, start=1):
        advice = failure.verdict.advice
        table.add_row(
            str(position),
            escape(failure.scenario),
            escape(failure.verdict.name),
            burned(failure.verdict.budget),
            "—" if advice is None else escape(advice.text),
        )
    return table


def summary(outcomes: list[RunOutcome]) -> RenderableType:
    """The summary table of the runs; with several, the failures ranked after it."""
    table = Table(title="Summary", title_justify="left")
    table.add_column("scenario")
    table.add_column("result")
    table.add_column("score", justify="right")
    table.add_column("detail")
    table.add_column("run directory")
    labels = {
        ExitCode.OK: "[green]PASS[/]",
        ExitCode.VERIFIER_FAILED: "[bold red]FAIL[/]",
        ExitCode.INVALID: "[red]INVALID[/]",
        ExitCode.ABORTED: "[yellow]ABORTED[/]",
        ExitCode.ROLLBACK_FAILED: "[bold white on red]ROLLBACK FAILED[/]",
    }
    scores = []
    for outcome in outcomes:
        score = resilience_score(outcome.verdicts)
        # An aborted or invalid run held nothing — even one judged partially, on what it recorded before a stop.
        scores.append(0.0 if score is None or outcome.partial is not None else score)
        shown = "—" if score is None else f"{score:.0%}" + " (partial)" * (outcome.partial is not None)
        table.add_row(
            outcome.scenario, labels[outcome.exit_code], shown, outcome.message, str(outcome.run_dir)
        )
    if len(outcomes) > 1:
        # The suite's score: every scenario counts the same, whatever its number of verifiers.
        table.add_row(
            "[bold]suite[/]",
            "",
            f"[bold]{sum(scores) / len(scores):.0%}[/]",
            "mean of the scenarios' scores",
            "",
        )
        failures = failures_table(outcomes)
        if failures is not None:
            return Group(table, failures)
    return table
