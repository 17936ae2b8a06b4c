"""Scenario and target files in, typed models out — or all their problems at once, each where it is.

An author fixes a file in one pass only if every problem is reported, saying what was expected and what was
found. Stages: the YAML (syntax, duplicate keys) and the pydantic model, its error locations mapped back to
lines, both by :mod:`mlchaos.experiments.yaml_problems`; then, here, what the model cannot check alone (fault
ids, references, the dataset, the body template).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from jinja2 import TemplateSyntaxError
from jinja2.nativetypes import NativeEnvironment
from pydantic import TypeAdapter, ValidationError

from mlchaos.experiments.load.spec import RequestTemplate
from mlchaos.experiments.scenario import Scenario, ScenarioFile
from mlchaos.experiments.targets import EmbeddedTarget, ExternalTarget, KubernetesTarget, Target
from mlchaos.experiments.verifiers import VERIFIERS
from mlchaos.experiments.yaml_problems import (
    Loc,
    Nodes,
    Problem,
    Unusable,
    dotted,
    located,
    read,
    reworded,
    validation_problems,
)
from mlchaos.injectors import INJECTORS

# Problem is defined with the YAML machinery; callers of the loader import it from here.
__all__ = [
    "MAX_DATASET_LINES",
    "MAX_DATASET_PROBLEMS",
    "Problem",
    "ScenarioInvalid",
    "load_scenario",
    "load_scenarios",
    "load_target",
]

MAX_DATASET_LINES = 100_000  # only a dataset's head is checked: enough to catch a wrong format, and cheap
MAX_DATASET_PROBLEMS = 10  # a dataset in the wrong format is wrong on every line; this many examples say so

_TAG_KEYS = ("type", "kind")  # the discriminators of the unions in a scenario: faults, verifiers, target
_RECORD = '{"body": {...}, "label": ...}'
# The names a fault's or a verifier's `type` may take come from the registries, by the field listing them.
_REGISTRIES = {"faults": ("fault type", sorted(INJECTORS)), "verifiers": ("verifier type", sorted(VERIFIERS))}


class ScenarioInvalid(Exception):
    """A scenario cannot be run; ``problems`` lists everything found, each file's in line order."""

    def __init__(self, problems: list[Problem]) -> None:
        files = list(dict.fromkeys(problem.file for problem in problems))  # the scenario, then its dataset
        self.problems = sorted(problems, key=lambda p: (files.index(p.file), p.line or 1e9, p.column or 0))
        super().__init__("\n".join(str(problem) for problem in self.problems))


def load_scenario(path: Path) -> ScenarioFile:
    """The scenario in ``path``, its ``load.dataset`` made absolute; else :class:`ScenarioInvalid`."""
    scenario, text, nodes, problems = _validated(path, Scenario)
    problems += _semantic_problems(path, nodes, scenario)
    if problems:
        raise ScenarioInvalid(problems)
    if scenario.load.dataset is not None:
        load = scenario.load.model_copy(update={"dataset": (path.parent / scenario.load.dataset).resolve()})
        scenario = scenario.model_copy(update={"load": load})
    faults = [fault.with_files_under(path.parent) for fault in scenario.faults]
    scenario = scenario.model_copy(update={"faults": faults})
    return ScenarioFile(path=path, scenario=scenario, text=text)


def load_scenarios(paths: Iterable[Path]) -> tuple[list[ScenarioFile], list[Problem]]:
    """Every valid scenario among ``paths``, and every problem of the others."""
    loaded, problems = list[ScenarioFile](), list[Problem]()
    for path in paths:
        try:
            loaded.append(load_scenario(path))
        except ScenarioInvalid as exc:
            problems += exc.problems
    return loaded, problems


def load_target(
    path: Path,
) -> tuple[EmbeddedTarget | ExternalTarget | KubernetesTarget | None, list[Problem]]:
    """A target file (``--target``, overriding each scenario's ``target``), or ``None`` and its problems."""
    try:
        target, _, _, problems = _validated(path, Target)
    except ScenarioInvalid as exc:
        return None, exc.problems
    return (None, problems) if problems else (target, [])


def _validated(path: Path, annotation: Any) -> tuple[Any, str, Nodes, list[Problem]]:
    """The model in ``path``, its text and nodes, and the problems that did not stop validation."""
    try:
        text, nodes, data, problems = read(path)
    except Unusable as exc:
        raise ScenarioInvalid([exc.problem]) from None
    try:
        return TypeAdapter(annotation).validate_python(data), text, nodes, problems
    except ValidationError as exc:
        problems += validation_problems(
            path, nodes, exc, annotation, tag_keys=_TAG_KEYS, registries=_REGISTRIES
        )
        raise ScenarioInvalid(problems) from None


def _located(path: Path, nodes: Nodes, loc: Loc, message: str) -> Problem:
    """A problem at ``loc`` in a scenario, whose unions pydantic told apart by :data:`_TAG_KEYS`."""
    return located(path, nodes, loc, message, tag_keys=_TAG_KEYS)


def _semantic_problems(path: Path, nodes: Nodes, scenario: Scenario) -> list[Problem]:
    """What the model cannot check alone: unique fault ids, verifiers' faults, the dataset, the template."""
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for i, fault in enumerate(scenario.faults):
        if fault.id in first:
            message = f"duplicate fault id '{fault.id}' (also faults[{first[fault.id]}]); ids must be unique"
            problems.append(_located(path, nodes, ("faults", i, "id"), message))
        first.setdefault(fault.id, i)
    for i, verifier in enumerate(scenario.verifiers):
        fault_id = getattr(verifier, "fault", None)  # only verifiers about one fault have it
        if isinstance(fault_id, str) and fault_id not in first:
            message = f"no fault with id '{fault_id}'; the faults are: {', '.join(first)}"
            problems.append(_located(path, nodes, ("verifiers", i, "fault"), message))
    if scenario.load.dataset is not None:
        problems += _dataset_problems(path, nodes, scenario.load.dataset)
    for i, fault in enumerate(scenario.faults):  # files a fault names (adversarial samples), line by line
        try:
            file_problems = fault.file_problems(path.parent)
        except ValueError:  # open() refuses a path with a NUL character in it
            problems.append(
                _located(path, nodes, ("faults", i), "a file path contains a NUL character (\\0)")
            )
            continue
        for bad in file_problems:
            if bad.line is None:  # about the file as a whole (e.g. missing): shown at the fault naming it
                problems.append(_located(path, nodes, ("faults", i), bad.message))
            else:
                problems.append(Problem(bad.file, bad.line, None, f"faults[{i}]", bad.message))
    return problems + _template_problems(path, nodes)


def _dataset_problems(path: Path, nodes: Nodes, dataset: Path) -> list[Problem]:
    """The dataset's head must hold one request per line (blank lines aside); the first bad lines say why."""
    file, problems, requests = path.parent / dataset, list[Problem](), 0
    try:
        # A device or a pipe (/dev/zero, /dev/stdin) would be read forever, or block: only plain files.
        if file.exists() and not file.is_file():
            return [_located(path, nodes, ("load", "dataset"), f"dataset '{dataset}': not a regular file")]
        with file.open("rb") as lines:
            for number, line in enumerate(itertools.islice(lines, MAX_DATASET_LINES), start=1):
                requests += bool(line.strip())
                if line.strip() and (bad := _bad_request(line)):
                    problems.append(Problem(file, number, bad[1], "load.dataset", bad[0]))
    except ValueError:  # raised by open() for the one character no path may hold
        return [
            _located(path, nodes, ("load", "dataset"), "the dataset's path contains a NUL character (\\0)")
        ]
    except OSError as exc:
        found = f"not found (looked for {file.resolve()})" if isinstance(exc, FileNotFoundError) else exc
        return [_located(path, nodes, ("load", "dataset"), f"dataset '{dataset}': {found}")]
    if requests == 0:
        message = f"no requests in dataset '{dataset}'; expected {_RECORD} lines"
        problems.append(_located(path, nodes, ("load", "dataset"), message))
    if len(problems) > MAX_DATASET_PROBLEMS:
        more = f"... and {len(problems) - MAX_DATASET_PROBLEMS} more bad lines"
        first_unshown = problems[MAX_DATASET_PROBLEMS].line
        problems = [
            *problems[:MAX_DATASET_PROBLEMS],
            Problem(file, first_unshown, None, "load.dataset", more),
        ]
    return problems


def _bad_request(line: bytes) -> tuple[str, int | None] | None:
    """Why a dataset line is not a request, and the column where that shows; ``None`` when it is one."""
    try:
        RequestTemplate.model_validate(json.loads(line))
    except UnicodeDecodeError:
        return "not UTF-8 text", None
    except json.JSONDecodeError as exc:
        return f"not JSON ({exc.msg}); expected {_RECORD}", exc.colno
    except ValidationError as exc:
        found = [
            f"{dotted(e['loc']) or 'line'}: {reworded(e, RequestTemplate, _REGISTRIES)}" for e in exc.errors()
        ]
        return f"expected {_RECORD}; {'; '.join(found)}", None
    return None


def _template_problems(path: Path, nodes: Nodes) -> list[Problem]:
    """Jinja syntax errors in ``load.body``, which the load engine would only meet when it starts."""
    environment, problems = NativeEnvironment(), []
    for loc, (_, node) in nodes.items():
        # The engine treats only strings with `{{` or `{%` as templates (load/bodies.py); the rest are plain.
        if (
            loc[:2] == ("load", "body")
            and isinstance(node, yaml.ScalarNode)
            and node.tag.endswith(":str")
            and ("{{" in node.value or "{%" in node.value)
        ):
            try:
                environment.from_string(node.value)
            except TemplateSyntaxError as exc:
                where = f" (line {exc.lineno} of the template)" if "\n" in node.value else ""
                problems.append(_located(path, nodes, loc, f"template syntax error: {exc.message}{where}"))
            except RecursionError:
                problems.append(_located(path, nodes, loc, "template nested too deeply to compile"))
    return problems
