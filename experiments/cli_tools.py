"""The commands of ``mlchaos`` that run no experiment: ``load-worker`` (serve loads), ``target check`` (look at a
target), ``init`` (write starter files) and ``staging up`` (the embedded stack). :mod:`mlchaos.experiments.cli`
registers them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlchaos.experiments.cli_common import (
    AllowProductionOption,
    SecretFileOption,
    console,
    errors,
    host_port,
    print_problems,
)
from mlchaos.experiments.errors import ExitCode
from mlchaos.experiments.init_command import init as run_init
from mlchaos.experiments.load import load_secret, worker_hosts
from mlchaos.experiments.load.worker_service import serve
from mlchaos.experiments.loader import load_target
from mlchaos.experiments.target_check import CheckUnusable, read_bodies
from mlchaos.experiments.target_check_view import check as check_target

staging_app = typer.Typer(
    help="The embedded reference ML stack (gateway with fallback tiers, model server, "
    "feature store, toxiproxy) under supervisord.",
    no_args_is_help=True,
)
target_app = typer.Typer(help="Look at a target without faulting anything.", no_args_is_help=True)


def load_worker(
    master: Annotated[
        str,
        typer.Argument(
            metavar="HOST:PORT",
            callback=host_port,
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
        print_problems(problems)
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
