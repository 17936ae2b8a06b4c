"""The ``mlchaos`` command.

Exit codes (docs/glossary.md): 0 all verifiers held · 1 a verifier failed · 2 the scenario or target is
invalid · 3 the run aborted (guardrail, error or signal) — rollback done · 4 rollback itself failed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mlchaos.experiments import runlock
from mlchaos.experiments.cli_common import (
    OUTPUT,
    AllowProductionOption,
    HistoryOption,
    ProbeIntervalOption,
    PushgatewayOption,
    ScenarioPaths,
    SecretFileOption,
    TargetOption,
    WebhookFormatOption,
    WebhookUrlFileOption,
    WebhookWhenOption,
    WorkerBindOption,
    check_history,
    console,
    errors,
    load_or_exit,
    print_problems,
    publish_settings,
    use_load_secret,
)
from mlchaos.experiments.cli_tools import init_command, load_worker, staging_app, target_app
from mlchaos.experiments.console import describe_load, describe_warmup, plan_table
from mlchaos.experiments.crash import BUG_EXIT_CODE, crashes_saved_under, failure_message
from mlchaos.experiments.errors import ExitCode, MlchaosError
from mlchaos.experiments.index_commands import index_command, serve_command
from mlchaos.experiments.kubernetes.client import KubernetesError
from mlchaos.experiments.kubernetes.guard import Refused
from mlchaos.experiments.kubernetes.readiness import describe_cluster
from mlchaos.experiments.loader import ScenarioInvalid
from mlchaos.experiments.outcome import recording_cut
from mlchaos.experiments.plan import make_plan, placeholder_endpoints
from mlchaos.experiments.rollback import rollback_run
from mlchaos.experiments.run_reader import RUN_READER
from mlchaos.experiments.runs import RunSettings, run_loaded_suite, run_scenarios, worst
from mlchaos.experiments.schema_command import schema_command
from mlchaos.experiments.session import external_endpoints, kubernetes_endpoints
from mlchaos.experiments.suite import SuiteInvalid, load_suite
from mlchaos.experiments.targets import EmbeddedTarget, ExternalTarget, KubernetesTarget
from mlchaos.injectors import InjectorError
from mlchaos.reports import RunDirError, write_report

app = typer.Typer(
    name="mlchaos",
    help="Chaos experiments for ML staging stacks: inject real faults under load, verify that fallbacks engage, "
    "breakers open and close and MTTR stays on target — with numbers.\n\n"
    "Start with `mlchaos plan scenarios/feature-store-outage.yaml`, then `mlchaos run` it.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
app.add_typer(staging_app, name="staging")
app.add_typer(target_app, name="target")


@app.command()
def validate(
    paths: ScenarioPaths, target: TargetOption = None, allow_production: AllowProductionOption = False
) -> None:
    """Check scenario files without running anything.

    Every problem is reported as FILE:LINE:COLUMN: field: what was expected. Exit 0 if all files are valid, 2 if not.
    """
    files = load_or_exit(paths, target, allow_production=allow_production)
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
    for scenario_file in load_or_exit(paths, target, allow_production=allow_production):
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
    webhook_when: WebhookWhenOption = None,
    webhook_format: WebhookFormatOption = None,
    webhook_url_file: WebhookUrlFileOption = None,
    pushgateway: PushgatewayOption = None,
) -> None:
    """Run scenarios: preflight, baseline, faults on the timeline, recovery, verdicts.

    Each run writes journal.jsonl, requests.parquet, probes.parquet, verdicts.json, report.html, junit.xml and
    summary.json to its own directory. Ctrl-C (or SIGTERM) stops the run and reverts every fault; a second
    Ctrl-C skips waiting, never the revert. The exit code is the worst of all runs.
    """
    files = load_or_exit(paths, target, allow_production=allow_production)
    check_history(history)
    use_load_secret(worker_bind, secret_file)
    publish = publish_settings(
        None, when=webhook_when, format_=webhook_format, url_file=webhook_url_file, pushgateway=pushgateway
    )
    settings = RunSettings(probe_interval, history, worker_bind, publish)
    crashes_saved_under(out)
    outcomes = run_scenarios(files, out=out, settings=settings, output=OUTPUT)
    raise typer.Exit(int(worst(outcomes)))


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
    webhook_when: WebhookWhenOption = None,
    webhook_format: WebhookFormatOption = None,
    webhook_url_file: WebhookUrlFileOption = None,
    pushgateway: PushgatewayOption = None,
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
        print_problems(exc.problems)
        raise typer.Exit(ExitCode.INVALID) from exc
    files = load_or_exit(list(loaded.scenarios), target or loaded.target, allow_production=allow_production)
    history = None if no_history else history or out
    check_history(history if history != out else None)
    use_load_secret(worker_bind, secret_file)
    publish = publish_settings(
        loaded.publish,
        when=webhook_when,
        format_=webhook_format,
        url_file=webhook_url_file,
        pushgateway=pushgateway,
    )
    settings = RunSettings(probe_interval, history, worker_bind, publish)
    crashes_saved_under(out)
    outcome = run_loaded_suite(loaded, files, out=out, settings=settings, output=OUTPUT)
    raise typer.Exit(int(outcome.exit_code))


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
    check_history(history)
    try:
        path = write_report(run_dirs, RUN_READER, out, history=history)
    except ScenarioInvalid as exc:
        print_problems(exc.problems)
        raise typer.Exit(ExitCode.INVALID) from exc
    except (RunDirError, ValueError) as exc:  # ValueError: a journal line that is not an entry
        errors.print(str(exc), markup=False)
        raise typer.Exit(ExitCode.INVALID) from exc
    for run_dir in run_dirs:  # a run killed before it saved its recording is judged on what it wrote
        if (cut := recording_cut(run_dir)) is not None:
            console.print(f"{run_dir}: {cut.reason} (judged partially)", soft_wrap=True, markup=False)
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


# Commands that serve or look at a target without running an experiment: experiments/cli_tools.py.
app.command("load-worker")(load_worker)
app.command("init")(init_command)
app.command("schema")(schema_command)  # the JSON Schema of scenario, suite and target files, for editors
app.command("index")(index_command)  # the runs folder as one page: experiments/index_commands.py
app.command("serve")(serve_command)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # only outside a run: runs handle SIGINT themselves
        errors.print("interrupted")
        sys.exit(ExitCode.ABORTED)
    except Exception as exc:
        # Nothing handled it: an anticipated error exits with its family's code; anything else is a bug, never
        # "invalid input": its traceback is saved (crash.txt under --out, or a temporary file) and it exits 3.
        errors.print(failure_message(exc), markup=False, soft_wrap=True)
        sys.exit(exc.exit_code if isinstance(exc, MlchaosError) else BUG_EXIT_CODE)
