"""The ``mlchaos`` command.

Exit codes (design.md): 0 all verifiers held · 1 a verifier failed · 2 the scenario or target is invalid ·
3 the run aborted (guardrail, error or signal) — rollback done · 4 rollback itself failed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from mlchaos.experiments import runlock
from mlchaos.experiments.console import (
    ConsoleDisplay,
    RedactingConsole,
    describe_load,
    describe_warmup,
    plan_table,
    verdict_table,
)
from mlchaos.experiments.engine import ExitCode, Experiment, RunOutcome, StopRequest
from mlchaos.experiments.init_command import init as run_init
from mlchaos.experiments.journal import Event, Journal, StackRecord
from mlchaos.experiments.kubernetes.client import KubernetesError
from mlchaos.experiments.kubernetes.guard import Refused
from mlchaos.experiments.kubernetes.readiness import describe_cluster
from mlchaos.experiments.load import load_secret, worker_hosts
from mlchaos.experiments.load.spec import parse_host_port
from mlchaos.experiments.load.worker_service import serve
from mlchaos.experiments.loader import Problem, ScenarioInvalid, load_scenario, load_scenarios, load_target
from mlchaos.experiments.outcome import compute_verdicts, load_recording
from mlchaos.experiments.plan import make_plan, placeholder_endpoints
from mlchaos.experiments.redaction import redact_text
from mlchaos.experiments.rollback import recover_unfinished, rollback_run
from mlchaos.experiments.scenario import Scenario, ScenarioFile, scenario_record
from mlchaos.experiments.session import TargetSession, external_endpoints, kubernetes_endpoints
from mlchaos.experiments.suite import SuiteInvalid, load_suite
from mlchaos.experiments.target_check import CheckUnusable, read_bodies
from mlchaos.experiments.target_check_view import check as check_target
from mlchaos.experiments.targets import EmbeddedTarget, ExternalTarget, KubernetesTarget
from mlchaos.experiments.verifiers import resilience_score
from mlchaos.injectors import InjectorError
from mlchaos.reports import (
    REPORT_NAME,
    RunData,
    RunDirError,
    RunReader,
    SuiteHeading,
    write_report,
    write_run_outputs,
    write_suite_outputs,
)

app = typer.Typer(
    name="mlchaos",
    help="Chaos experiments for ML staging stacks: inject real faults under load, verify that fallbacks engage, "
    "breakers open and close and MTTR stays on target — with numbers.\n\n"
    "Start with `mlchaos plan scenarios/feature-store-outage.yaml`, then `mlchaos run` it.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
staging_app = typer.Typer(
    help="The embedded reference ML stack (gateway with fallback tiers, model server, "
    "feature store, toxiproxy) under supervisord.",
    no_args_is_help=True,
)
app.add_typer(staging_app, name="staging")
target_app = typer.Typer(help="Look at a target without faulting anything.", no_args_is_help=True)
app.add_typer(target_app, name="target")

# Tables need room: in a terminal rich uses its width; in a CI log (not a terminal) 160 columns, not 80.
# Both mask secrets in URLs (`?token=…`) wherever they turn up in what is printed.
console = RedactingConsole(log_path=False, width=None if sys.stdout.isatty() else 160)
errors = RedactingConsole(stderr=True, log_path=False, width=None if sys.stderr.isatty() else 160)

ScenarioPaths = Annotated[list[Path], typer.Argument(help="Scenario YAML files.", show_default=False)]
TargetOption = Annotated[
    Path | None,
    typer.Option(
        "--target", "-t", help="Target file (embedded or external) overriding each scenario's target."
    ),
]
HistoryOption = Annotated[
    Path | None,
    typer.Option(
        "--history",
        help="A folder of earlier run or suite directories: the report adds a trend section comparing "
        "score, MTTR per fault and p99 per phase with earlier runs of the same scenarios.",
        show_default=False,
    ),
]
ProbeIntervalOption = Annotated[float, typer.Option(help="Seconds between health/metrics probes.", min=0.05)]


def _host_port(value: str | None) -> str | None:
    if value is not None:
        try:
            parse_host_port(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return value


WorkerBindOption = Annotated[
    str | None,
    typer.Option(
        "--worker-bind",
        envvar="MLCHAOS_WORKER_BIND",
        metavar="HOST:PORT",
        callback=_host_port,
        show_default=False,
        help="Scenarios with `load.workers: N`: listen here for N workers started elsewhere (`mlchaos "
        "load-worker HOST:PORT`, the chart's worker pods) instead of starting N local worker processes. "
        "Needs the load secret the workers have: MLCHAOS_LOAD_SECRET or --secret-file.",
    ),
]
SecretFileOption = Annotated[
    Path | None,
    typer.Option(
        "--secret-file",
        envvar=load_secret.SECRET_FILE_ENV,
        show_default=False,
        help="With --worker-bind / for load-worker: a file (readable by its owner only) holding the load secret "
        "the master and its workers share; instead of MLCHAOS_LOAD_SECRET.",
    ),
]


def _use_load_secret(worker_bind: str | None, secret_file: Path | None) -> None:
    """With --worker-bind, check now that the load child will find a usable load secret (it reads it from this
    process's environment); exit 2 saying how to set one otherwise."""
    if worker_bind is None:
        return
    try:
        if secret_file is not None:
            load_secret.read_file(secret_file)
            os.environ.pop(load_secret.SECRET_ENV, None)
            os.environ[load_secret.SECRET_FILE_ENV] = str(secret_file.resolve())
        else:
            load_secret.required()
    except load_secret.LoadSecretError as exc:
        errors.print(f"--worker-bind: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(ExitCode.INVALID) from None


def _print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        errors.print(str(problem), markup=False, highlight=False, soft_wrap=True)
    files = len({p.file for p in problems})
    errors.print(f"[red]{len(problems)} problem(s) in {files} file(s)[/]")


AllowProductionOption = Annotated[
    bool,
    typer.Option(
        "--allow-production",
        help="Run even though a host or Service name mlchaos would contact, or a Kubernetes target's context, API "
        "server or a namespace, looks like production (prod, production, prd or live as a word of it). Without "
        "it such targets are refused (exit 2).",
    ),
]


def _load_or_exit(
    paths: list[Path], target: Path | None, *, allow_production: bool = False
) -> list[ScenarioFile]:
    loaded, problems = (
        (None, []) if target is None else load_target(target, allow_production=allow_production)
    )
    # On the overriding target: the scenarios' tier names are checked against its ladder.
    files, scenario_problems = load_scenarios(paths, target=loaded, allow_production=allow_production)
    problems += scenario_problems
    if problems:
        _print_problems(problems)
        raise typer.Exit(ExitCode.INVALID)
    if allow_production:
        files = [_allowing_production(f) for f in files]
    return files


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


@app.command()
def validate(
    paths: ScenarioPaths, target: TargetOption = None, allow_production: AllowProductionOption = False
) -> None:
    """Check scenario files without running anything.

    Every problem is reported as FILE:LINE:COLUMN: field: what was expected. Exit 0 if all files are valid, 2 if not.
    """
    files = _load_or_exit(paths, target, allow_production=allow_production)
    for scenario_file in files:
        scenario = scenario_file.scenario
        console.print(
            f"[green]✓[/] {scenario_file.path}: {scenario.name} — {len(scenario.faults)} fault(s), "
            f"{len(scenario.verifiers)} verifier(s), {scenario.duration:g}s under load"
        )


@app.command()
def plan(
    paths: ScenarioPaths,
    target: TargetOption = None,
    allow_production: AllowProductionOption = False,
    worker_bind: WorkerBindOption = None,
) -> None:
    """Show the timeline and exactly what each fault will touch — without touching anything.

    For the embedded target the stack's ports are picked when it starts, so they are shown as placeholders. For a
    Kubernetes target the cluster is read (never changed): the pods each kill would delete now (names and UIDs),
    the workloads with their current replicas, and the toxiproxy proxies.
    """
    for scenario_file in _load_or_exit(paths, target, allow_production=allow_production):
        scenario = scenario_file.scenario
        try:
            if isinstance(scenario.target, ExternalTarget):
                endpoints = external_endpoints(scenario.target)
            elif isinstance(scenario.target, KubernetesTarget):
                endpoints = kubernetes_endpoints(scenario.target)
            else:
                endpoints = placeholder_endpoints(scenario.target)
            console.print(plan_table(make_plan(scenario, endpoints)))
        except (InjectorError, KubernetesError, Refused) as exc:
            errors.print(f"{scenario_file.path}: {exc}", markup=False, soft_wrap=True)
            raise typer.Exit(ExitCode.INVALID) from exc
        if endpoints.kubernetes is not None:
            for line in describe_cluster(endpoints):
                console.print(line, markup=False, soft_wrap=True)
        elif isinstance(scenario.target, EmbeddedTarget):
            flags = ", ".join(scenario.target.flags) or "none"
            console.print(
                f"target: embedded reference stack (started for the run; broken-variant flags: {flags})"
            )
        else:
            console.print(f"target: external service at {scenario.target.service_url}")
        console.print(describe_load(scenario.load, worker_bind), soft_wrap=True)
        if (warmup := describe_warmup(scenario.load)) is not None:
            console.print(warmup, soft_wrap=True)
        console.print(f"steady state: {scenario.steady_state.describe()}")


@contextmanager
def _signals_request_stop(stop: StopRequest) -> Iterator[None]:
    """SIGINT/SIGTERM ask the run to stop; they never interrupt a revert in progress."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        stop.request(name)
        if stop.hurry:
            errors.print(f"[yellow]{name} again: skipping waits — faults are still being reverted[/]")
        else:
            errors.print(f"[yellow]{name}: stopping — reverting every fault first (again to skip waiting)[/]")

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
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


def _score_text(outcome: RunOutcome) -> str:
    score = resilience_score(outcome.verdicts)
    if score is None:
        return "no score (no verdicts)"
    held = sum(v.passed for v in outcome.verdicts)
    return f"resilience score {score:.0%} ({held} of {len(outcome.verdicts)} verifiers held)"


def _summary(outcomes: list[RunOutcome]) -> Table:
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
    return table


@app.command()
def run(
    paths: ScenarioPaths,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory under which each run gets its own folder.")
    ] = Path("mlchaos-runs"),
    target: TargetOption = None,
    probe_interval: ProbeIntervalOption = 0.25,
    history: HistoryOption = None,
    allow_production: AllowProductionOption = False,
    worker_bind: WorkerBindOption = None,
    secret_file: SecretFileOption = None,
) -> None:
    """Run scenarios: preflight, baseline, faults on the timeline, recovery, verdicts.

    Each run writes journal.jsonl, requests.parquet, probes.parquet, verdicts.json, report.html, junit.xml and
    summary.json to its own directory. Ctrl-C (or SIGTERM) stops the run and reverts every fault; a second
    Ctrl-C skips waiting, never the revert. The exit code is the worst of all runs.
    """
    files = _load_or_exit(paths, target, allow_production=allow_production)
    _check_history(history)
    _use_load_secret(worker_bind, secret_file)
    outcomes = [
        outcome for outcome, _ in _run_all(files, out, RunSettings(probe_interval, history, worker_bind))
    ]
    console.print(_summary(outcomes))
    raise typer.Exit(int(_worst(outcomes)))


@app.command()
def suite(
    suite_file: Annotated[Path, typer.Argument(help="Suite YAML file.", show_default=False)],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Directory under which the suite gets its own folder."),
    ] = Path("mlchaos-runs"),
    target: TargetOption = None,
    probe_interval: ProbeIntervalOption = 0.25,
    history: Annotated[
        Path | None,
        typer.Option(
            "--history",
            help="A folder of earlier runs and suites to compare with (trend section). "
            "Default: the --out folder, where earlier suites landed.",
            show_default=False,
        ),
    ] = None,
    no_history: Annotated[bool, typer.Option("--no-history", help="No trend section.")] = False,
    allow_production: AllowProductionOption = False,
    worker_bind: WorkerBindOption = None,
    secret_file: SecretFileOption = None,
) -> None:
    """Run a suite — the monthly run: every scenario it lists, in order, then one combined report.

    A suite file names the suite and lists scenario files (relative to it), optionally a target file:

    \b
        name: monthly
        description: Monthly resilience run of the fraud-scoring stack.
        scenarios: \\[feature-store-outage.yaml, primary-pod-kill.yaml]

    Every scenario is validated first (exit 2 before anything runs if one is invalid). Then the suite goes on
    past scenarios that fail or abort. OUT/<time>-<name>/ gets a folder per scenario run plus the combined
    report.html, junit.xml (a testsuite per scenario) and summary.json. Exit code: the worst scenario's.
    """
    try:
        loaded = load_suite(suite_file)
    except SuiteInvalid as exc:
        _print_problems(exc.problems)
        raise typer.Exit(ExitCode.INVALID) from exc
    files = _load_or_exit(list(loaded.scenarios), target or loaded.target, allow_production=allow_production)
    history = None if no_history else history or out
    _check_history(history if history != out else None)
    _use_load_secret(worker_bind, secret_file)
    recovered = _recover_unfinished(out)
    suite_dir = _run_dir(out, loaded.name)
    suite_text = redact_text(suite_file.read_text(encoding="utf-8"))  # a target in it may hold a token
    (suite_dir / "suite.yaml").write_text(suite_text, encoding="utf-8")
    console.print(f"suite {loaded.name}: {len(files)} scenario(s) → {suite_dir}", soft_wrap=True)
    settings = RunSettings(probe_interval, history if history and history.is_dir() else None, worker_bind)
    results = _run_all(files, suite_dir, settings)
    outcomes = [outcome for outcome, _ in results]
    console.print(_summary(outcomes))
    runs = [data for _, data in results if data is not None]
    heading = SuiteHeading(loaded.name, loaded.description, str(suite_file), recovered)
    if runs:
        try:
            report_path = write_suite_outputs(
                suite_dir, runs, heading, history=history if history and history.is_dir() else None
            )
            console.print(
                f"suite report: {report_path} (junit.xml and summary.json beside it)", soft_wrap=True
            )
        except Exception as exc:
            errors.print(
                f"[red]could not write the suite report of {suite_dir}:[/] {type(exc).__name__}: {exc}"
            )
    raise typer.Exit(int(_worst(outcomes)))


def _recover_unfinished(out: Path) -> tuple[str, ...]:
    """Roll back what runs under ``out`` that died unfinished left applied, before the suite touches anything."""
    found = recover_unfinished(out)
    for unfinished in found:
        failed = unfinished.result is None or not unfinished.result.ok
        (errors if failed else console).print(unfinished.describe(), markup=False, soft_wrap=True)
    return tuple(unfinished.describe() for unfinished in found)


def _check_history(history: Path | None) -> None:
    if history is not None and not history.is_dir():
        errors.print(
            f"--history {history}: not a directory (expected a folder of earlier runs)", markup=False
        )
        raise typer.Exit(ExitCode.INVALID)


def _worst(outcomes: list[RunOutcome]) -> ExitCode:
    return max((o.exit_code for o in outcomes), default=ExitCode.ABORTED)


@dataclass(frozen=True)
class RunSettings:
    """How this invocation runs its scenarios (the same for each of them)."""

    probe_interval: float
    history: Path | None
    worker_bind: str | None


def _run_all(
    files: list[ScenarioFile], out: Path, settings: RunSettings
) -> list[tuple[RunOutcome, RunData[Scenario] | None]]:
    """Run each scenario in turn (sharing embedded stacks where they can be shared) until done or stopped."""
    stop = StopRequest()
    results: list[tuple[RunOutcome, RunData[Scenario] | None]] = []
    display = ConsoleDisplay(console)
    with _signals_request_stop(stop):
        session = TargetSession(note=display.note)
        try:
            for scenario_file in files:
                if stop.event.is_set():
                    break
                results.append(_run_one(scenario_file, out, session, stop, display, settings))
        finally:
            session.close()
    return results


def _run_one(
    scenario_file: ScenarioFile,
    out: Path,
    session: TargetSession,
    stop: StopRequest,
    display: ConsoleDisplay,
    settings: RunSettings,
) -> tuple[RunOutcome, RunData[Scenario] | None]:
    scenario = scenario_file.scenario
    try:
        run_dir = _run_dir(out, scenario.name)
        (run_dir / "scenario.yaml").write_text(scenario_record(scenario), encoding="utf-8")
    except OSError as exc:  # a read-only or full disk: nothing was touched yet, and nothing can be recorded
        return _unrecorded(out, scenario.name, f"cannot write a run directory under {out}: {exc}"), None

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
    except Exception as exc:  # a stack that cannot start, or a plan that cannot apply: an invalid target
        message = f"target not usable: {exc}"
        with contextlib.suppress(OSError):  # the message below says it all, journalled or not
            journal(Event.ABORTED, detail=message)
        outcome = RunOutcome(run_dir, scenario.name, ExitCode.INVALID, [], message)
        console.print(f"[red]{scenario.name}: {message}[/]", soft_wrap=True)
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
            return _unrecorded(run_dir, scenario.name, f"cannot write the journal in {run_dir}: {exc}"), None
        outcome = experiment.run()
        if outcome.verdicts:
            title = f"{scenario.name}: {_score_text(outcome)}"
            if (partial := outcome.partial) is not None:
                at = datetime.fromtimestamp(partial.at).strftime("%H:%M:%S")
                stopped = f"PARTIAL — stopped by {partial.by} at {at}"
                title = f"{scenario.name}: {stopped}; {_score_text(outcome)}"
            console.print(verdict_table(title, outcome.verdicts))
        style = "green" if outcome.exit_code == ExitCode.OK else "red"
        # soft_wrap: the message names failed verifiers and measured values; CI logs are grepped for it whole.
        console.print(f"[{style}]{scenario.name}: {outcome.message}[/]", soft_wrap=True)
    try:  # report.html, junit.xml, summary.json; the run's result stands even if they cannot be written
        data = write_run_outputs(
            run_dir, RUN_READER, scenario=scenario, verdicts=outcome.verdicts, history=settings.history
        )
        console.print(
            f"report: {run_dir / REPORT_NAME} (junit.xml and summary.json beside it)", soft_wrap=True
        )
    except Exception as exc:
        errors.print(f"[red]could not write the report of {run_dir}:[/] {type(exc).__name__}: {exc}")
        data = None
    return outcome, data


def _unrecorded(where: Path, name: str, message: str) -> RunOutcome:
    """A run that stopped before it touched anything because it could not record (exit 3: an error)."""
    console.print(f"[red]{name}: {message} — nothing was touched[/]", soft_wrap=True)
    return RunOutcome(where, name, ExitCode.ABORTED, [], f"{message} — nothing was touched")


def _recorded_scenario(path: Path) -> Scenario:
    """The scenario a run recorded. Its dataset or locustfile only drove the load and no verifier reads it, so a
    run directory copied off its machine (a CI artifact) can be reported even where that path does not exist."""
    try:
        return load_scenario(path).scenario
    except ScenarioInvalid as exc:
        load_files = ("load.dataset", "load.locustfile", "load.user_classes")
        if any(not problem.where.startswith(load_files) for problem in exc.problems):
            raise
        return Scenario.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


RUN_READER = RunReader(
    load_scenario=_recorded_scenario, load_recording=load_recording, compute_verdicts=compute_verdicts
)
"""How the reports read a run directory: with this layer's scenario model and verifiers (see mlchaos.reports)."""


@app.command()
def report(
    run_dirs: Annotated[
        list[Path], typer.Argument(help="Run directories made by `mlchaos run`.", show_default=False)
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="HTML file to write. Default: RUN_DIR/report.html for one run; for several, report.html in "
            "the directory holding them (or the current directory if they are in different places).",
        ),
    ] = None,
    history: HistoryOption = None,
) -> None:
    """Render one self-contained HTML report of one or more runs, from what they recorded.

    Verdicts are recomputed from each run directory (the verifiers only read recorded data). The file needs no
    network to view: styles and charts are inline, there are no scripts. Exit 0 when written, 2 when a
    directory is not a readable run.
    """
    _check_history(history)
    try:
        path = write_report(run_dirs, RUN_READER, out, history=history)
    except ScenarioInvalid as exc:
        _print_problems(exc.problems)
        raise typer.Exit(ExitCode.INVALID) from exc
    except (RunDirError, ValueError) as exc:  # ValueError: a journal line that is not an entry
        errors.print(str(exc), markup=False)
        raise typer.Exit(ExitCode.INVALID) from exc
    console.print(f"report: {path}", soft_wrap=True)


@app.command()
def rollback(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (it holds journal.jsonl).")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Roll back even though the run's process still seems to be running."),
    ] = False,
) -> None:
    """Undo whatever a run left applied — e.g. after it was killed with SIGKILL — reading only its journal.

    Safe to run more than once. Exit 0 when nothing remains applied, 4 when a revert failed. A run that is
    still going is refused (exit 2): stop it instead (Ctrl-C or SIGTERM), and it reverts its own faults.
    """
    holder = None if force else runlock.running_holder(run_dir)
    if holder is not None:
        errors.print(
            f"{run_dir} is still running (pid {holder.pid}, scenario '{holder.scenario}'): stop it with Ctrl-C "
            f"or `kill {holder.pid}` and it reverts its own faults; rollback is for runs that died "
            "(--force to roll back anyway)",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(ExitCode.INVALID)
    try:
        result = rollback_run(run_dir)
    except FileNotFoundError as exc:
        errors.print(str(exc), markup=False)
        raise typer.Exit(ExitCode.INVALID) from exc
    for fault_id in result.reverted:
        console.print(f"[green]reverted[/] {fault_id}")
    for workdir in result.stacks_stopped:
        console.print(f"[green]stopped[/] embedded stack {workdir}")
    for fault_id in result.gone:
        console.print(f"[green]gone[/] {fault_id}: the embedded stack it was applied to no longer exists")
    for fault_id, why in result.failed.items():
        errors.print(f"[red]could not revert {fault_id}[/]: {why}")
    if not (result.reverted or result.stacks_stopped or result.failed or result.gone):
        console.print("nothing to undo: the journal shows every fault reverted")
    raise typer.Exit(ExitCode.OK if result.ok else ExitCode.ROLLBACK_FAILED)


@app.command("load-worker")
def load_worker(
    master: Annotated[
        str,
        typer.Argument(
            metavar="HOST:PORT",
            callback=_host_port,
            show_default=False,
            help="Where the load master listens: what the run was given as --worker-bind (a Service name in "
            "a cluster).",
        ),
    ],
    loads: Annotated[
        int | None,
        typer.Option(min=1, show_default=False, help="Exit after serving this many loads (default: never)."),
    ] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            envvar=worker_hosts.ALLOW_HOSTS_ENV,
            show_default=False,
            help="A host (besides loopback) the loads may send requests to; repeat it or separate with commas. "
            "A load whose spec names any other host is refused.",
        ),
    ] = None,
    secret_file: SecretFileOption = None,
) -> None:
    """Serve as a Locust worker for runs started elsewhere with --worker-bind (the chart's worker pods).

    Scenarios with `load.workers: N` normally start N local worker processes. A run given
    `--worker-bind HOST:PORT` waits for N workers to connect there instead, so the load can come from
    several machines. The master sends each worker the whole load; nothing else needs copying. One worker
    process serves one load, then the next starts: a pod stays up across every scenario of a suite.
    Master and workers prove to each other that they hold the same load secret (MLCHAOS_LOAD_SECRET or
    --secret-file); a worker runs only loads whose requests go to loopback or an --allow-host host.
    Stop with SIGTERM or Ctrl-C.

    \b
        export MLCHAOS_LOAD_SECRET=...   # the same secret on every machine (e.g. `openssl rand -hex 24`)
        mlchaos run --worker-bind 0.0.0.0:5557 scenario.yaml                    # on the master's machine
        mlchaos load-worker master-host:5557 --allow-host staging.example.com   # on each worker machine
    """
    try:
        hosts = worker_hosts.parsed(allow_host or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--allow-host") from None
    try:
        secret = load_secret.read_file(secret_file) if secret_file is not None else load_secret.required()
    except load_secret.LoadSecretError as exc:
        errors.print(f"load-worker: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(ExitCode.INVALID) from None
    say = lambda line: console.print(line, soft_wrap=True, markup=False)  # noqa: E731
    raise typer.Exit(serve(master, secret=secret, allowed_hosts=hosts, loads=loads, say=say))


@target_app.command("check")
def target_check(
    file: Annotated[Path, typer.Argument(help="A target file (embedded, external or kubernetes).")],
    dataset: Annotated[
        Path | None,
        typer.Option(
            "--dataset",
            help='JSONL requests ({"body": {...}, "label": ...}) to send, first ones first; with labels, '
            "quality and calibration would have canaries.",
            show_default=False,
        ),
    ] = None,
    body: Annotated[
        str | None, typer.Option("--body", help="One JSON request body to send.", show_default=False)
    ] = None,
    requests: Annotated[int, typer.Option("--requests", "-n", min=1, max=100, help="Requests to send.")] = 3,
    allow_production: AllowProductionOption = False,
) -> None:
    """One look at a target, faulting nothing: what a run would read of it.

    Shows its health endpoints; a few requests (from --dataset or --body, else built from its request schema)
    and what its response mapping reads of the answers (tier and whether it is on the ladder, prediction,
    confidence, score, review, shed); one sample of every declared signal (breakers, transitions, drift,
    gauges); its toxiproxy proxies, supervisord programs and Kubernetes workloads; the request schema a run
    would resolve; and which verifiers would have data. An embedded target's stack is started and stopped.

    Exit 0 when everything declared could be read, 1 when something could not (the last line names it),
    2 when the target file is invalid or the service is unreachable or not ready.
    """
    loaded, problems = load_target(file, allow_production=allow_production)
    if loaded is None:
        _print_problems(problems)
        raise typer.Exit(ExitCode.INVALID)
    try:
        given = read_bodies(dataset, body)
    except CheckUnusable as exc:
        errors.print(str(exc), markup=False, soft_wrap=True)
        raise typer.Exit(ExitCode.INVALID) from exc
    origin = "dataset" if dataset is not None else "body"
    raise typer.Exit(
        check_target(
            loaded,
            given,
            count=requests,
            origin=origin,
            console=console,
            errors=errors,
            allow_production=allow_production,
        )
    )


@app.command("init")
def init_command(
    url: Annotated[str, typer.Argument(help="The service's base URL, e.g. http://127.0.0.1:8080.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write target.yaml and scenario.yaml into.")
    ] = Path("."),
    name: Annotated[
        str | None,
        typer.Option(
            help="The service's name, for the scenario's (default: its OpenAPI title, or its host).",
            show_default=False,
        ),
    ] = None,
    openapi: Annotated[
        str | None,
        typer.Option(
            "--openapi",
            metavar="PATH",
            help="Where the service publishes its OpenAPI spec (JSON); default: the first of /openapi.json, "
            "/api/openapi.json, /swagger.json, /v3/api-docs, /docs/openapi.json that answers.",
            show_default=False,
        ),
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option(
            "--metrics",
            metavar="PATH",
            help="Its Prometheus metrics; default: the first of /metrics, /internal/metrics, /prometheus.",
            show_default=False,
        ),
    ] = None,
    predict_path: Annotated[
        str | None,
        typer.Option(
            "--predict-path",
            metavar="PATH",
            help="The prediction endpoint (POST, JSON); default: from the OpenAPI spec.",
            show_default=False,
        ),
    ] = None,
    dataset: Annotated[
        Path | None,
        typer.Option(
            "--dataset",
            help='JSONL requests ({"body": {...}, "label": ...}) for the scenario\'s load (and its first line as '
            "the one request sent); default: a body template built from the request schema.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace existing target.yaml / scenario.yaml.")
    ] = False,
    allow_production: AllowProductionOption = False,
) -> None:
    """Write a starter target file and scenario for the service at URL, from what it publishes.

    Reads its OpenAPI spec (predict path, request features), probes common health and metrics paths, suggests
    breaker and drift signals from its metric names, and sends ONE request built from the request schema to
    guess where its answers carry the tier, prediction and confidence. Every guess is commented: check it with
    `mlchaos target check OUT/target.yaml`. The scenario (corrupted inputs: it needs nothing but the service)
    validates as written. A host that is not loopback becomes the target's allowed_hosts — unless it looks like
    production: then it is refused, before anything is sent, without --allow-production.

    Exit 0 when both files are written, 2 when nothing was (refused host, existing files, no request schema).
    """
    raise typer.Exit(
        run_init(
            url,
            out,
            name=name,
            openapi=openapi,
            metrics=metrics,
            predict_path=predict_path,
            dataset=dataset,
            force=force,
            allow_production=allow_production,
            console=console,
            errors=errors,
        )
    )


@staging_app.command(
    "up", context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}
)
def staging_up(ctx: typer.Context) -> None:
    """Start the embedded stack in the foreground and print its endpoints (and an external-target file).

    Point scenarios at it with `--target` to run experiments against a stack that outlives each run. Ctrl-C
    stops it. Options: --flag NAME (a broken variant, repeatable), --seed N, --restart-delay-s S,
    --workdir DIR, --timeout-s S, --json. `mlchaos staging up --help` lists them.
    """
    from mlchaos.staging.__main__ import main as staging_main

    raise typer.Exit(staging_main(list(ctx.args), prog="mlchaos staging up"))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # only outside a run: runs handle SIGINT themselves
        errors.print("interrupted")
        sys.exit(ExitCode.ABORTED)
