"""``mlchaos index`` and ``mlchaos serve``: the runs folder as one page, and that page over HTTP.
:mod:`mlchaos.experiments.cli` registers them; the work is in :mod:`mlchaos.reports.index` and
:mod:`mlchaos.experiments.serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlchaos.experiments.cli_common import console, errors
from mlchaos.experiments.errors import ExitCode
from mlchaos.experiments.serve import serve
from mlchaos.reports.index import describe, write_index

RunsFolderArgument = Annotated[
    Path,
    typer.Argument(
        help="The runs folder: what `mlchaos run` / `mlchaos suite` were given as --out.", show_default=True
    ),
]


def index_command(directory: RunsFolderArgument = Path("mlchaos-runs")) -> None:
    """Write DIR/index.html: every run and suite in DIR with its time, status, score, MTTD and MTTR, a score
    trend per scenario, and a relative link to each report.

    Reads only the summary.json each run and suite wrote (up to three levels down: DIR/run, DIR/suite/run,
    DIR/month/suite/run) and judges nothing again; a summary it cannot read is skipped and counted. The page
    is one self-contained file with no script, like the reports: open it from disk, a CI artifact or
    `mlchaos serve`. Every `mlchaos suite` refreshes the index of its --out folder. Exit 0 when written,
    2 when DIR is not a folder.
    """
    try:
        written = write_index(directory)
    except FileNotFoundError as exc:
        errors.print(str(exc), markup=False, soft_wrap=True)
        raise typer.Exit(ExitCode.INVALID) from exc
    console.print(describe(written), markup=False, soft_wrap=True)


def serve_command(
    directory: RunsFolderArgument = Path("mlchaos-runs"),
    port: Annotated[
        int,
        typer.Option(
            "--port", "-p", min=0, max=65535, help="Port to listen on; 0 picks a free one (printed)."
        ),
    ] = 0,
    bind: Annotated[
        str,
        typer.Option(
            "--bind",
            metavar="ADDRESS",
            help="Address to listen on. The default answers this machine only; 0.0.0.0 (the chart's pod) "
            "answers every network the machine is on.",
        ),
    ] = "127.0.0.1",
    token: Annotated[
        bool,
        typer.Option(
            "--token/--no-token",
            help="Serve under a random path (http://HOST:PORT/<token>/, printed), so other users of this machine, "
            "who can reach the port too, cannot read the folder. --no-token where something else decides who "
            "may connect (the chart's pod behind its Service).",
        ),
    ] = True,
) -> None:
    """Serve a runs folder read-only over HTTP: its index.html (`mlchaos index`) first, each link a report.

    Only GET and HEAD (anything else: 405). Only files inside DIR — no `..`, no symbolic link out of DIR,
    no hidden files — with the suffixes a run writes (.html, .json, .xml, .yaml, .jsonl, .txt, .png, .svg);
    no directory listings. Bound to loopback (the default), it answers only requests for localhost. Prints the
    URL (with its token); Ctrl-C (or SIGTERM) stops it. Exit 0 when stopped, 2 when DIR is not a folder or
    the port is taken.
    """
    if not directory.is_dir():
        errors.print(
            f"{directory}: not a directory (expected a runs folder, e.g. mlchaos-runs)", markup=False
        )
        raise typer.Exit(ExitCode.INVALID)
    try:
        serve(
            directory,
            host=bind,
            port=port,
            token=token,
            say=lambda line: console.print(line, markup=False, soft_wrap=True),
        )
    except OSError as exc:  # the port is taken, or the address is not this machine's
        errors.print(f"cannot listen on {bind}:{port}: {exc.strerror or exc}", markup=False, soft_wrap=True)
        raise typer.Exit(ExitCode.INVALID) from exc
