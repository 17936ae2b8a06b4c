"""Everything the CLI shows a person: plans, live progress, verdict tables. Rendering only — no decisions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from mlchaos.experiments.durations import format_seconds
from mlchaos.experiments.live import Snapshot
from mlchaos.experiments.plan import Action, Plan
from mlchaos.experiments.redaction import redact_text
from mlchaos.experiments.scenario import LoadConfig
from mlchaos.experiments.verifiers.base import Phase, Verdict


class RedactingConsole(Console):
    """A console that masks secrets in URLs (:func:`~mlchaos.experiments.redaction.redact_text`) in every string
    it shows: rich turns each printed string, table cell and title into text here, before styling and wrapping
    could split a URL apart."""

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(redact_text(text), **options)


def plan_table(plan: Plan) -> Table:
    table = Table(
        title=f"Plan: {plan.scenario.name} ({format_seconds(plan.duration)} under load)", title_justify="left"
    )
    table.add_column("at", justify="right", style="cyan")
    table.add_column("action")
    table.add_column("what it touches")
    described = {p.spec.id: p.plan for p in plan.faults}
    for step in plan.steps:
        at = f"{step.offset:+.1f}s"
        if step.action == Action.PHASE:
            assert step.phase is not None
            judged = " (load runs, nothing is judged)" if step.phase == Phase.WARMUP else ""
            table.add_row(at, f"[bold]{step.phase.value}[/] phase begins{judged}", "")
        else:
            assert step.fault is not None
            fault_plan = described[step.fault.id]
            verb = "inject" if step.action == Action.INJECT else "revert"
            what = fault_plan.description if step.action == Action.INJECT else "undo it"
            table.add_row(
                at,
                f"{verb} [bold]{step.fault.id}[/] ({step.fault.type}): {what}",
                "\n".join(fault_plan.touches),
            )
    table.add_row(f"{plan.end:+.1f}s", "end: load stops, verifiers run", "")
    return table


def describe_warmup(load: LoadConfig) -> str | None:
    """The warm-up, as ``plan`` shows it; ``None`` without one."""
    if load.warmup <= 0:
        return None
    return (
        f"warm-up: the load runs {format_seconds(load.warmup)} before the baseline; nothing in it is judged, "
        "and guardrails watch from the baseline on"
    )


def describe_load(load: LoadConfig, worker_bind: str | None) -> str:
    """Where the requests will come from, as ``plan`` shows it."""
    users = f"load: {load.users} users"
    if load.locustfile is not None:
        classes = ", ".join(load.user_classes) if load.user_classes else "every User class"
        users += f" of {load.locustfile.name} ({classes})"
    if not load.workers:
        return f"{users} from one local Locust process"
    if worker_bind is None:
        return f"{users} from {load.workers} local Locust worker processes"
    return (
        f"{users} from {load.workers} Locust workers connecting to {worker_bind} "
        "(`mlchaos load-worker`, the chart's worker pods)"
    )


def verdict_table(title: str, verdicts: list[Verdict]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("verifier")
    table.add_column("result")
    table.add_column("measured", justify="right")
    table.add_column("target")
    table.add_column("why")
    for verdict in verdicts:
        result = "[green]PASS[/]" if verdict.passed else "[bold red]FAIL[/]"
        measured = "—" if verdict.measured is None else f"{verdict.measured:.4g} {verdict.unit}"
        table.add_row(verdict.name, result, measured, verdict.target, verdict.explanation)
    return table


class ConsoleDisplay:
    """Live progress of one run: a bar over the planned duration, the phase, throughput and tier mix."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._phase = "starting"
        self._warmup = 0.0  # the engine counts from the baseline; the bar from the start of the load

    def started(self, plan: Plan, run_dir: Path) -> None:
        self.console.print(f"[bold]▶ {plan.scenario.name}[/] → {run_dir}")
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self._task = self._progress.add_task(self._phase, total=plan.duration, stats="")
        self._warmup = plan.warmup
        self._progress.start()

    def phase(self, phase: str, offset: float) -> None:
        self._phase = phase
        self.note(f"phase {phase} ({offset:+.1f}s)")

    def note(self, message: str) -> None:
        self.console.log(message)

    def tick(self, elapsed: float, snapshot: Snapshot) -> None:
        if self._progress is None or self._task is None:
            return
        tiers = " ".join(f"{tier} {share:.0%}" for tier, share in list(snapshot.tier_shares.items())[:3])
        errors = "—" if snapshot.error_rate is None else f"{snapshot.error_rate:.1%}"
        stats = f"{snapshot.rps:5.0f} rps · errors {errors} · {tiers}"
        completed = elapsed + self._warmup
        self._progress.update(self._task, completed=completed, description=f"{self._phase:<9}", stats=stats)

    def finished(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
