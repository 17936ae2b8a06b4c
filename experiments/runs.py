"""Running scenarios and suites from Python: the library API. ``mlchaos run`` and ``mlchaos suite`` are thin layers
over it, so a run started here writes the same run directory and ends with the same outcome::

    from pathlib import Path
    from mlchaos.experiments import run_scenario, run_suite

    outcome = run_scenario(Path("scenarios/feature-store-outage.yaml"), out=Path("mlchaos-runs"))
    outcome.exit_code, outcome.verdicts, outcome.run_dir, outcome.report

A scenario, target or suite file that is invalid raises :class:`~mlchaos.experiments.loader.ScenarioInvalid` or
:class:`~mlchaos.experiments.suite.SuiteInvalid` (every problem, at file:line:column) before anything runs.
Whatever happens once running — a verifier failing, a guardrail or a signal stopping the run, a target that cannot
be used, a rollback that fails — is the outcome's ``exit_code`` and ``message``, as the CLI's exit code says it.

Stopping: without a ``stop`` argument SIGINT and SIGTERM ask the run to stop while it runs (every fault is
reverted first), as in the CLI — Python allows that only in the main thread. Elsewhere pass a
:class:`~mlchaos.experiments.engine.StopRequest` and call its ``request(reason)`` to stop.

Output: nothing is printed unless an :class:`~mlchaos.experiments.run_view.Output` is passed (the CLI passes its
terminal consoles).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console

from mlchaos.experiments.console import ConsoleDisplay
from mlchaos.experiments.crash import BUG_EXIT_CODE, failure_message, is_bug
from mlchaos.experiments.engine import Experiment, StopRequest
from mlchaos.experiments.errors import ExitCode
from mlchaos.experiments.journal import Event, Journal, StackRecord
from mlchaos.experiments.loader import Problem, ScenarioInvalid, load_scenarios, load_target
from mlchaos.experiments.plan import make_plan
from mlchaos.experiments.publish import PublishConfig
from mlchaos.experiments.publish.telemetry import run_telemetry
from mlchaos.experiments.redaction import redact_text
from mlchaos.experiments.rollback import recover_unfinished
from mlchaos.experiments.run_endings import publish_problem, runs_ended, suite_ended
from mlchaos.experiments.run_outcome import RunOutcome
from mlchaos.experiments.run_reader import RUN_READER
from mlchaos.experiments.run_view import Output, print_result, summary
from mlchaos.experiments.scenario import Scenario, ScenarioFile, scenario_record
from mlchaos.experiments.session import TargetSession
from mlchaos.experiments.suite import Suite, load_suite
from mlchaos.experiments.targets import ExternalTarget, KubernetesTarget
from mlchaos.reports import REPORT_NAME, RunData, SuiteHeading, write_run_outputs, write_suite_outputs

__all__ = [
    "RunSettings",
    "SuiteOutcome",
    "load_scenario_files",
    "run_loaded_suite",
    "run_scenario",
    "run_scenarios",
    "run_suite",
    "worst",
]


@dataclass(frozen=True)
class RunSettings:
    """How scenarios are run (the same for each of them)."""

    probe_interval: float = 0.25
    """Seconds between health/metrics probes."""
    history: Path | None = None
    """A folder of earlier runs and suites: the report's trend section compares with them. ``None``: no trend."""
    worker_bind: str | None = None
    """``HOST:PORT`` where a ``load.workers: N`` load waits for N workers started elsewhere; ``None``: local
    worker processes. The load secret is read from this process's environment."""
    publish: PublishConfig | None = None
    """Where results go when a run (or a suite) ends: a webhook, a Pushgateway (``mlchaos.experiments.publish``).
    For a suite these replace the webhook or Pushgateway of its ``publish:`` block. ``None``: nowhere else."""


@dataclass(frozen=True)
class SuiteOutcome:
    """A suite's result: each scenario's outcome in order, and where the combined report went."""

    suite_dir: Path
    name: str
    runs: list[RunOutcome]
    report: Path | None
    """The combined report.html (junit.xml and summary.json beside it); ``None`` if it could not be written."""
    recovered: tuple[str, ...]
    """What unfinished runs found under ``out`` left applied, rolled back before the suite touched anything."""

    @property
    def exit_code(self) -> ExitCode:
        """The worst scenario's."""
        return worst(self.runs)


def worst(outcomes: Sequence[RunOutcome]) -> ExitCode:
    """The exit code of several runs: the worst of theirs (ABORTED when none ran: stopped before the first)."""
    return max((o.exit_code for o in outcomes), default=ExitCode.ABORTED)


def load_scenario_files(
    paths: Sequence[Path], target: Path | None = None, *, allow_production: bool = False
) -> tuple[list[ScenarioFile], list[Problem]]:
    """The scenarios in ``paths`` (on the target file ``target`` if given), and every problem found, in the order
    found: the target's, then each scenario's. Run nothing unless the problems are none."""
    loaded, problems = (
        (None, []) if target is None else load_target(target, allow_production=allow_production)
    )
    # On the overriding target: the scenarios' tier names are checked against its ladder.
    files, scenario_problems = load_scenarios(paths, target=loaded, allow_production=allow_production)
    problems += scenario_problems
    if allow_production:
        files = [_allowing_production(f) for f in files]
    return files, problems


def _allowing_production(scenario_file: ScenarioFile) -> ScenarioFile:
    """The scenario with ``allow_production`` set in its target: so it is recorded (scenario.yaml), and the
    runtime guard of a Kubernetes target sees it."""
    target = scenario_file.scenario.target
    if not isinstance(target, ExternalTarget | KubernetesTarget):
        return scenario_file
    scenario = scenario_file.scenario.model_copy(
        update={"target": target.model_copy(update={"allow_production": True})}
    )
    return scenario_file.model_copy(update={"scenario": scenario})


def run_scenario(
    scenario: Path | ScenarioFile,
    *,
    out: Path,
    target: Path | None = None,
    allow_production: bool = False,
    settings: RunSettings | None = None,
    output: Output | None = None,
    stop: StopRequest | None = None,
) -> RunOutcome:
    """Run one scenario (a file, or one loaded with :func:`load_scenario_files`) in a new folder under ``out``.

    ``target`` is a target file replacing the scenario's own target (only with a file: a loaded scenario already
    has its target). Raises ``ScenarioInvalid`` before anything runs if the files are invalid."""
    if isinstance(scenario, ScenarioFile):
        if target is not None:
            raise ValueError("target: give the target file when loading the scenario (load_scenario_files)")
        files = [_allowing_production(scenario) if allow_production else scenario]
    else:
        files, problems = load_scenario_files([scenario], target, allow_production=allow_production)
        if problems:
            raise ScenarioInvalid(problems)
    outcomes = run_scenarios(files, out=out, settings=settings, output=output, stop=stop)
    if not outcomes:  # stopped before it began
        return RunOutcome(out, files[0].scenario.name, ExitCode.ABORTED, [], "stopped — nothing was touched")
    return outcomes[0]


def run_suite(
    suite_file: Path,
    *,
    out: Path,
    target: Path | None = None,
    allow_production: bool = False,
    settings: RunSettings | None = None,
    output: Output | None = None,
    stop: StopRequest | None = None,
) -> SuiteOutcome:
    """Run every scenario a suite file lists, in order, then write the combined report, all under a new folder of
    ``out``. ``target`` replaces the suite's target file. ``settings.history`` is the folder the trend compares
    with (a caller wanting the CLI's default passes ``out``). Raises ``SuiteInvalid`` or ``ScenarioInvalid``
    before anything runs if a file is invalid."""
    suite = load_suite(suite_file)
    files, problems = load_scenario_files(
        list(suite.scenarios), target or suite.target, allow_production=allow_production
    )
    if problems:
        raise ScenarioInvalid(problems)
    return run_loaded_suite(suite, files, out=out, settings=settings, output=output, stop=stop)


def run_scenarios(
    files: Sequence[ScenarioFile],
    *,
    out: Path,
    settings: RunSettings | None = None,
    output: Output | None = None,
    stop: StopRequest | None = None,
) -> list[RunOutcome]:
    """Run each scenario in turn, each in its own folder under ``out``, then show the summary. A stop request
    ends the current run (rolled back) and runs no more: the list then holds the runs that began."""
    output = output or Output.quiet()
    settings = settings or RunSettings()
    outcomes = [outcome for outcome, _ in _run_all(files, out, settings, output, stop)]
    # Each run alone, compared with --history, else with the runs beside it in out.
    runs_ended(outcomes, settings.publish, history=settings.history or out, output=output)
    output.console.print(summary(outcomes))
    return outcomes


def run_loaded_suite(
    suite: Suite,
    files: Sequence[ScenarioFile],
    *,
    out: Path,
    settings: RunSettings | None = None,
    output: Output | None = None,
    stop: StopRequest | None = None,
) -> SuiteOutcome:
    """:func:`run_suite` on a suite and its scenarios already loaded (and checked: the CLI reports problems
    first). ``settings.history`` is used only if it is a folder once the suite's own folder is made."""
    output, settings = output or Output.quiet(), settings or RunSettings()
    recovered = _recover_unfinished(out, output)
    suite_dir = _run_dir(out, suite.name)
    suite_text = redact_text(suite.path.read_text(encoding="utf-8"))  # a target in it may hold a token
    (suite_dir / "suite.yaml").write_text(suite_text, encoding="utf-8")
    output.console.print(f"suite {suite.name}: {len(files)} scenario(s) → {suite_dir}", soft_wrap=True)
    # The default history is ``out``, which only now surely exists.
    history = settings.history if settings.history and settings.history.is_dir() else None
    settings = replace(settings, history=history)
    results = _run_all(files, suite_dir, settings, output, stop)
    outcomes = [outcome for outcome, _ in results]
    output.console.print(summary(outcomes))
    runs = [data for _, data in results if data is not None]
    heading = SuiteHeading(suite.name, suite.description, str(suite.path), recovered)
    report = None
    if runs:
        try:
            report = write_suite_outputs(suite_dir, runs, heading, history=history)
            output.console.print(
                f"suite report: {report} (junit.xml and summary.json beside it)", soft_wrap=True
            )
        except Exception as exc:  # a bug in the reports is saved as one (crash.txt); the results stand
            output.errors.print(
                f"[red]could not write the suite report of {suite_dir}:[/] {failure_message(exc, suite_dir)}"
            )
    suite_ended(suite, suite_dir, outcomes, settings.publish, out=out, history=history, output=output)
    return SuiteOutcome(suite_dir, suite.name, outcomes, report, recovered)


def _recover_unfinished(out: Path, output: Output) -> tuple[str, ...]:
    """Roll back what runs under ``out`` that died unfinished left applied, before the suite touches anything."""
    found = recover_unfinished(out)
    for unfinished in found:
        failed = unfinished.result is None or not unfinished.result.ok
        (output.errors if failed else output.console).print(
            unfinished.describe(), markup=False, soft_wrap=True
        )
    return tuple(unfinished.describe() for unfinished in found)


RunResult = tuple[RunOutcome, RunData[Scenario] | None]
"""A run's outcome, and what its report was made of (``None`` if it made none): a suite's report combines them."""


def _run_all(
    files: Sequence[ScenarioFile],
    out: Path,
    settings: RunSettings,
    output: Output,
    stop: StopRequest | None,
) -> list[RunResult]:
    """Run each scenario in turn (sharing embedded stacks where they can be shared) until done or stopped."""
    results: list[RunResult] = []
    display = ConsoleDisplay(output.console)
    with _stop_request(stop, output.errors) as stopping:
        session = TargetSession(note=display.note)
        try:
            for scenario_file in files:
                if stopping.event.is_set():
                    break
                results.append(_run_one(scenario_file, out, session, stopping, display, settings, output))
        finally:
            session.close()
    return results


@contextmanager
def _stop_request(stop: StopRequest | None, errors: Console) -> Iterator[StopRequest]:
    """The caller's stop request; or a new one that SIGINT/SIGTERM set — they never interrupt a revert in
    progress. Signal handlers can be set only in the main thread: elsewhere, without ``stop``, nothing stops."""
    if stop is not None or threading.current_thread() is not threading.main_thread():
        yield stop or StopRequest()
        return
    stop = StopRequest()

    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        stop.request(name)
        if stop.hurry:
            errors.print(f"[yellow]{name} again: skipping waits — faults are still being reverted[/]")
        else:
            errors.print(f"[yellow]{name}: stopping — reverting every fault first (again to skip waiting)[/]")

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _run_dir(out: Path, name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for attempt in range(100):
        candidate = out / (f"{stamp}-{name}" + (f"-{attempt}" if attempt else ""))
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a run directory under {out}")


def _run_one(
    scenario_file: ScenarioFile,
    out: Path,
    session: TargetSession,
    stop: StopRequest,
    display: ConsoleDisplay,
    settings: RunSettings,
    output: Output,
) -> RunResult:
    scenario = scenario_file.scenario
    try:
        run_dir = _run_dir(out, scenario.name)
        (run_dir / "scenario.yaml").write_text(scenario_record(scenario), encoding="utf-8")
    except OSError as exc:  # a read-only or full disk: nothing was touched yet, and nothing can be recorded
        message = f"cannot write a run directory under {out}: {exc}"
        return _unrecorded(out, scenario.name, message, output), None
    # Spans and annotations as the journal is written, if the environment asks (OTEL_*, MLCHAOS_GRAFANA_*).
    with run_telemetry(run_dir, scenario, say=lambda problem: publish_problem(problem, output)) as telemetry:
        outcome, data = _run_recorded(run_dir, scenario, session, stop, display, settings, output)
        telemetry.result = (outcome.exit_code, outcome.message)
    return outcome, data


def _run_recorded(
    run_dir: Path,
    scenario: Scenario,
    session: TargetSession,
    stop: StopRequest,
    display: ConsoleDisplay,
    settings: RunSettings,
    output: Output,
) -> RunResult:
    def journal(event: Event, **fields: Any) -> None:
        # For a new stack this comes before it is ready: a run killed during the start-up can still be rolled back.
        journal = Journal(run_dir)
        journal.append(event, **fields)
        journal.close()

    def journal_stack(record: StackRecord) -> None:
        journal(Event.STACK_STARTED, stack=record)

    try:
        endpoints = session.acquire(scenario.target, on_stack=journal_stack)
        plan_ = make_plan(scenario, endpoints)
    except Exception as exc:  # a stack that cannot start or a plan that cannot apply (2), or a bug (3)
        bug = is_bug(exc)
        message = failure_message(exc, run_dir) if bug else f"target not usable: {exc}"
        with contextlib.suppress(OSError):  # the message below says it all, journalled or not
            journal(Event.ABORTED, detail=message)
            if bug:  # no fault was applied yet (there was no plan): finished, aborted, nothing to revert
                journal(Event.RUN_FINISHED, detail="rollback ok")
        outcome = RunOutcome(run_dir, scenario.name, BUG_EXIT_CODE if bug else ExitCode.INVALID, [], message)
        output.console.print(f"[red]{scenario.name}: {message}[/]", soft_wrap=True)
    else:
        try:
            experiment = Experiment(
                plan_,
                run_dir,
                stop=stop,
                display=display,
                probe_interval_s=settings.probe_interval,
                worker_bind=settings.worker_bind,
            )
        except OSError as exc:  # its journal cannot be written: no fault may be applied without one
            message = f"cannot write the journal in {run_dir}: {exc}"
            return _unrecorded(run_dir, scenario.name, message, output), None
        outcome = experiment.run()
        print_result(output.console, scenario.name, outcome)
    try:  # report.html, junit.xml, summary.json; the run's result stands even if they cannot be written
        data = write_run_outputs(
            run_dir, RUN_READER, scenario=scenario, verdicts=outcome.verdicts, history=settings.history
        )
        outcome.report = run_dir / REPORT_NAME
        output.console.print(
            f"report: {outcome.report} (junit.xml and summary.json beside it)", soft_wrap=True
        )
    except Exception as exc:  # a bug in the reports is saved as one (RUN_DIR/crash.txt); the result stands
        why = failure_message(exc, run_dir)
        output.errors.print(f"[red]could not write the report of {run_dir}:[/] {why}")
        data = None
    return outcome, data


def _unrecorded(where: Path, name: str, message: str, output: Output) -> RunOutcome:
    """A run that stopped before it touched anything because it could not record (exit 3: an error)."""
    output.console.print(f"[red]{name}: {message} — nothing was touched[/]", soft_wrap=True)
    return RunOutcome(where, name, ExitCode.ABORTED, [], f"{message} — nothing was touched")
