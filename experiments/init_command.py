"""``mlchaos init URL``: a starter ``target.yaml`` and ``scenario.yaml`` for the service at URL.

In order — nothing is sent before the first two, nothing written before the last but one:

1. the host: refused when it looks like production, without ``--allow-production``
   (:func:`~mlchaos.experiments.init_files.checked_url`);
2. the files: existing ones are not overwritten without ``--force``;
3. what the service publishes (:func:`~mlchaos.experiments.init_files.discover`);
4. the text of both files, with comments (:mod:`~mlchaos.experiments.init_yaml`), validated by the models;
5. written, then loaded as ``mlchaos validate`` loads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rich.console import Console

from mlchaos.experiments.errors import ExitCode
from mlchaos.experiments.init_files import Discovery, InitRefused, checked_url, discover
from mlchaos.experiments.init_guesses import guess_answer
from mlchaos.experiments.init_yaml import (
    SCENARIO_FILE,
    TARGET_FILE,
    scenario_text,
    target_text,
    validated,
    write,
)
from mlchaos.experiments.loader import ScenarioInvalid, load_scenario


def init(
    url: str,
    out_dir: Path,
    *,
    name: str | None = None,
    openapi: str | None = None,
    metrics: str | None = None,
    predict_path: str | None = None,
    dataset: Path | None = None,
    force: bool = False,
    allow_production: bool = False,
    console: Console,
    errors: Console,
) -> ExitCode:
    """Write the starter files (see the module); the exit code (2: nothing written)."""
    try:
        checked_url(url, allow_production=allow_production)
        existing = [out_dir / f for f in (TARGET_FILE, SCENARIO_FILE) if (out_dir / f).exists()]
        if existing and not force:
            listed = ", ".join(map(str, existing))
            raise InitRefused(f"{listed} already exist(s): not overwritten (--force to replace)")
        found = discover(
            url,
            openapi=openapi,
            metrics=metrics,
            predict_path=predict_path,
            dataset=dataset,
            allow_production=allow_production,
        )
        answer = guess_answer(found.answer, found.headers) if found.answer_error is None else {}
        target = target_text(found, answer)
        scenario = scenario_text(found, name or _name(found), out_dir, answer)
        validated(target, scenario, allow_production=allow_production)
        paths = write(out_dir, [(TARGET_FILE, target), (SCENARIO_FILE, scenario)], force=force)
    except InitRefused as exc:
        errors.print(f"[red]✗[/] {exc}", soft_wrap=True, highlight=False)
        return ExitCode.INVALID
    except OSError as exc:
        errors.print(f"[red]✗[/] cannot write into {out_dir}: {exc}", soft_wrap=True, highlight=False)
        return ExitCode.INVALID
    for path in paths:
        console.print(f"[green]wrote[/] {path}", soft_wrap=True)
    try:
        load_scenario(paths[1], allow_production=allow_production)
    except ScenarioInvalid as exc:  # the models passed them: a loader check init does not foresee
        errors.print(
            f"[red]✗ the files written do not validate (a bug of mlchaos init):[/]\n{exc}", markup=True
        )
        return ExitCode.INVALID
    _summary(found, answer.keys(), console)
    flag = " --allow-production" if found.production else ""
    console.print(
        f"next: mlchaos target check {paths[0]}{flag}   (what is read: fix what it cannot)\n"
        f"      then fill in what the comments ask, and: mlchaos run {paths[1]}{flag}",
        soft_wrap=True,
        markup=False,
    )
    return ExitCode.OK


def _name(found: Discovery) -> str:
    info = found.document.get("info") if found.document is not None else None
    title = info.get("title") if isinstance(info, dict) else None
    return str(title) if isinstance(title, str) and title.strip() else found.allowed_host or "service"


def _summary(found: Discovery, read: Iterable[str], console: Console) -> None:
    features = ", ".join(found.schema.features) or "none"
    console.print(f"predict path: {found.predict_path} ({found.predict_note})", soft_wrap=True, markup=False)
    console.print(f"request features: {features}", soft_wrap=True, markup=False)
    if found.answer_error is not None:
        console.print(f"[yellow]the one request: {found.answer_error}[/]", soft_wrap=True)
    else:
        guessed = ", ".join(read) or "none"
        console.print(
            f"the one request: HTTP {found.status}; answer fields guessed: {guessed}", soft_wrap=True
        )
    for note in found.notes:
        console.print(f"[yellow]note:[/] {note}", soft_wrap=True)
