"""What the commands of ``mlchaos`` share: the terminal consoles, the options several commands take, and how a
command reports input it cannot use (exit 2)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from mlchaos.experiments.console import RedactingConsole
from mlchaos.experiments.errors import ExitCode
from mlchaos.experiments.load import load_secret
from mlchaos.experiments.load.spec import parse_host_port
from mlchaos.experiments.loader import Problem
from mlchaos.experiments.publish import Format, PublishConfig, When, overridden
from mlchaos.experiments.publish.config import WEBHOOK_URL_ENV
from mlchaos.experiments.redaction import redact_text
from mlchaos.experiments.run_view import Output
from mlchaos.experiments.runs import load_scenario_files
from mlchaos.experiments.scenario import ScenarioFile

# Tables need room: in a terminal rich uses its width; in a CI log (not a terminal) 160 columns, not 80.
# Both mask secrets in URLs (`?token=…`) wherever they turn up in what is printed.
console = RedactingConsole(log_path=False, width=None if sys.stdout.isatty() else 160)
errors = RedactingConsole(stderr=True, log_path=False, width=None if sys.stderr.isatty() else 160)
OUTPUT = Output(console, errors)
"""What a run prints goes to the terminal (the library prints nothing by default)."""

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


def host_port(value: str | None) -> str | None:
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
        callback=host_port,
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


def use_load_secret(worker_bind: str | None, secret_file: Path | None) -> None:
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


def print_problems(problems: list[Problem]) -> None:
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


def load_or_exit(
    paths: list[Path], target: Path | None, *, allow_production: bool = False
) -> list[ScenarioFile]:
    files, problems = load_scenario_files(paths, target, allow_production=allow_production)
    if problems:
        print_problems(problems)
        raise typer.Exit(ExitCode.INVALID)
    return files


def check_history(history: Path | None) -> None:
    if history is not None and not history.is_dir():
        errors.print(
            f"--history {history}: not a directory (expected a folder of earlier runs)", markup=False
        )
        raise typer.Exit(ExitCode.INVALID)


# Publishing (docs/observability.md): a webhook and a Pushgateway when a run or suite ends. The webhook URL itself
# is never an option — a command line is visible to every user of the machine (ps) — but an environment variable
# (MLCHAOS_WEBHOOK_URL) or a file.
WebhookWhenOption = Annotated[
    When | None,
    typer.Option(
        "--webhook-when",
        envvar="MLCHAOS_WEBHOOK_WHEN",
        show_default=False,
        help="When to call the webhook whose URL is in MLCHAOS_WEBHOOK_URL (or --webhook-url-file): `always`, on "
        "`failure` (the default), or on `regression` — a scenario worse than its previous run in the history "
        "folder (score, MTTR, p99 beyond the noise margin) or a pass turned fail. A failing webhook changes "
        "neither the verdict nor the exit code; publish.log in the run directory says how it went.",
    ),
]
WebhookFormatOption = Annotated[
    Format | None,
    typer.Option(
        "--webhook-format",
        envvar="MLCHAOS_WEBHOOK_FORMAT",
        show_default=False,
        help="The webhook's body: `slack` (text + blocks; the default) or `generic` (mlchaos's JSON document).",
    ),
]
WebhookUrlFileOption = Annotated[
    Path | None,
    typer.Option(
        "--webhook-url-file",
        envvar="MLCHAOS_WEBHOOK_URL_FILE",
        show_default=False,
        help="A file holding the webhook URL (e.g. a mounted Secret), instead of MLCHAOS_WEBHOOK_URL.",
    ),
]
PushgatewayOption = Annotated[
    str | None,
    typer.Option(
        "--pushgateway",
        envvar="MLCHAOS_PUSHGATEWAY_URL",
        metavar="URL",
        show_default=False,
        help="Push the results to this Prometheus Pushgateway (e.g. http://pushgateway:9091): score, verdicts, "
        "MTTD/MTTR per fault, last success time (docs/reference/metrics.md).",
    ),
]


def publish_settings(
    suite_block: PublishConfig | None,
    *,
    when: When | None,
    format_: Format | None,
    url_file: Path | None,
    pushgateway: str | None,
) -> PublishConfig | None:
    """The publishing settings of a command: the suite file's block with the options on top; exit 2 now, before
    anything runs, if a URL they name is unset or unreadable (an unattended run would otherwise tell no one)."""
    try:
        config = overridden(
            suite_block,
            webhook_when=when,
            webhook_format=format_,
            webhook_url_file=url_file,
            pushgateway=pushgateway,
        )
    except ValueError as exc:  # pydantic's ValidationError: a --pushgateway that is not an http(s) URL
        errors.print(f"publishing settings: {redact_text(str(exc))}", markup=False, soft_wrap=True)
        raise typer.Exit(ExitCode.INVALID) from None
    if config is None and (when is not None or format_ is not None):
        errors.print(
            f"--webhook-when/--webhook-format: no webhook URL (set {WEBHOOK_URL_ENV} or --webhook-url-file)",
            markup=False,
        )
        raise typer.Exit(ExitCode.INVALID)
    problems = [] if config is None else config.check()
    for problem in problems:
        errors.print(problem, markup=False, soft_wrap=True)
    if problems:
        raise typer.Exit(ExitCode.INVALID)
    return config
