"""Checking a scenario's ``load.locustfile`` when the scenario is validated, without importing it.

Importing a locustfile imports Locust, which monkey-patches the whole process for gevent: that happens in the
load child only. Here the file is read and parsed: it must exist, be a regular ``.py`` file small enough to
travel in the load spec, and be valid Python; the classes ``load.user_classes`` names must be bound at its top
level (defined or imported). Whether they are Locust users is known only when the child imports them; it says
so then, before any load starts.

A locustfile's users make their own requests, so ML input faults, which replace a share of mlchaos' own
requests, cannot be injected: a scenario with both is a problem at the fault.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from mlchaos.experiments.load.spec import MAX_LOCUSTFILE_BYTES
from mlchaos.experiments.scenario import Scenario
from mlchaos.experiments.yaml_problems import Loc, Problem
from mlchaos.injectors.base import InputFaultSpec

Locate = Callable[[Loc, str], Problem]
"""A problem at a place in the scenario file (the loader's ``_located``)."""

WHERE = "load.locustfile"
INPUT_FAULTS_NEED_OWN_USERS = (
    "input faults replace a share of mlchaos' own requests; with load.locustfile they cannot be injected — "
    "remove the fault or the locustfile"
)


def locustfile_problems(path: Path, scenario: Scenario, locate: Locate) -> list[Problem]:
    """The problems of the locustfile the scenario in ``path`` names, and of input faults next to it."""
    load = scenario.load
    if load.locustfile is None:
        return []
    problems = [
        locate(("faults", i), f"fault '{fault.id}' ({fault.type}): {INPUT_FAULTS_NEED_OWN_USERS}")
        for i, fault in enumerate(scenario.faults)
        if isinstance(fault, InputFaultSpec)
    ]
    file = path.parent / load.locustfile
    source, problem = _read(file, load.locustfile, locate)
    if problem is not None:
        return [*problems, problem]
    try:
        tree = ast.parse(source, filename=str(file))
    except SyntaxError as exc:
        return [*problems, Problem(file, exc.lineno, exc.offset, WHERE, f"not valid Python: {exc.msg}")]
    bound = set(_top_level_names(tree.body))
    classes = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    for i, name in enumerate(load.user_classes or ()):
        if name not in bound:
            defined = ", ".join(classes) or "none"
            message = f"no class '{name}' in locustfile '{load.locustfile}' (its classes: {defined})"
            problems.append(locate(("load", "user_classes", i), message))
    return problems


def _read(file: Path, named: Path, locate: Locate) -> tuple[str, Problem | None]:
    """The locustfile's text, or the problem that keeps it from being read."""
    here: Loc = ("load", "locustfile")
    try:
        if not file.exists():
            return "", locate(here, f"locustfile '{named}': not found (looked for {file.resolve()})")
        if not file.is_file():  # a device or a pipe would be read forever, or block
            return "", locate(here, f"locustfile '{named}': not a regular file")
        if file.suffix != ".py":
            return "", locate(here, f"locustfile '{named}': expected a Python file ending .py")
        size = file.stat().st_size
        if size > MAX_LOCUSTFILE_BYTES:
            message = (
                f"locustfile '{named}' is {size} bytes; at most {MAX_LOCUSTFILE_BYTES} (its text travels in the "
                "load spec, to load workers too): move helpers into modules next to it"
            )
            return "", locate(here, message)
        raw = file.read_bytes()
    except ValueError:  # raised by the file system calls for the one character no path may hold
        return "", locate(here, "the locustfile's path contains a NUL character (\\0)")
    except OSError as exc:
        return "", locate(here, f"locustfile '{named}': {exc}")
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return "", locate(here, f"locustfile '{named}': not UTF-8 text")


def _top_level_names(statements: Iterable[ast.stmt]) -> Iterator[str]:
    """Names a module binds when it runs: classes, imports and assignments, also under a top-level ``if``,
    ``try`` or ``with`` (``try: from x import User except ImportError: ...``)."""
    for node in statements:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                yield alias.asname or alias.name.split(".")[0]
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                yield from (n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.If | ast.Try | ast.With):
            yield from _top_level_names(node.body)
            yield from _top_level_names(getattr(node, "orelse", []))
            yield from _top_level_names(getattr(node, "finalbody", []))
            for handler in getattr(node, "handlers", []):
                yield from _top_level_names(handler.body)
