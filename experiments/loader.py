"""Scenario and target files in, typed models out — or all their problems at once, each where it is.

An author fixes a file in one pass only if every problem is reported, saying what was expected and what was
found. Stages: the YAML (syntax, duplicate keys) and the pydantic model, its error locations mapped back to
lines, both by :mod:`mlchaos.experiments.yaml_problems`; then, here, what the model cannot check alone (fault
ids, references, tier and gauge names against the target's declaration, the dataset, the body template).
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from mlchaos.experiments.errors import InvalidInput
from mlchaos.experiments.file_limits import MAX_DATASET_BYTES, MAX_DATASET_ROWS, FileTooLarge, check_size
from mlchaos.experiments.inputs.inference import resolve_schema
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.load.bodies import template_problem
from mlchaos.experiments.load.locustfile_check import locustfile_problems
from mlchaos.experiments.load.spec import RequestTemplate
from mlchaos.experiments.scenario import Scenario, ScenarioFile
from mlchaos.experiments.targets import (
    ALLOW_PRODUCTION,
    EmbeddedTarget,
    ExternalTarget,
    KubernetesTarget,
    Target,
    ladder_of,
)
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
MAX_SCHEMA_BODIES = 10_000  # dataset bodies the request schema is inferred from when a scenario is validated

_TAG_KEYS = ("type", "kind")  # the discriminators of the unions in a scenario: faults, verifiers, target
_RECORD = '{"body": {...}, "label": ...}'
# The names a fault's or a verifier's `type` may take come from the registries, by the field listing them.
_REGISTRIES = {"faults": ("fault type", sorted(INJECTORS)), "verifiers": ("verifier type", sorted(VERIFIERS))}
AnyTarget = EmbeddedTarget | ExternalTarget | KubernetesTarget


class ScenarioInvalid(InvalidInput):
    """A scenario cannot be run; ``problems`` lists everything found, each file's in line order."""

    def __init__(self, problems: list[Problem]) -> None:
        files = list(dict.fromkeys(problem.file for problem in problems))  # the scenario, then its dataset
        self.problems = sorted(problems, key=lambda p: (files.index(p.file), p.line or 1e9, p.column or 0))
        super().__init__("\n".join(str(problem) for problem in self.problems))


def load_scenario(
    path: Path, *, target: AnyTarget | None = None, allow_production: bool = False
) -> ScenarioFile:
    """The scenario in ``path``, its ``load.dataset`` and ``load.locustfile`` made absolute; else
    :class:`ScenarioInvalid`.

    ``target`` replaces the scenario's own (``--target``, a suite's target): what the scenario says of the
    target, such as the tiers its verifiers name, is checked against the one it will run on — and shown at the
    scenario's lines. A target file the scenario names (``target: staging.yaml``) is then not read.
    ``allow_production`` (``--allow-production``) lets targets name hosts that look like production."""

    def named_target(nodes: Nodes, data: Any) -> tuple[Any, list[Problem]]:
        return _named_target(path, nodes, data, read=target is None, allow_production=allow_production)

    scenario, text, nodes, problems = _validated(
        path, Scenario, allow_production=allow_production, prepare=named_target
    )
    if target is not None:
        scenario = scenario.model_copy(update={"target": target})
    # A target file that could not be used leaves a stand-in target, whose tier ladder says nothing.
    unusable_target = any(p.file != path or p.where == "target" for p in problems)
    problems += _semantic_problems(path, nodes, scenario, check_tiers=not unusable_target)
    if problems:
        raise ScenarioInvalid(problems)
    if scenario.load.dataset is not None:
        load = scenario.load.model_copy(update={"dataset": (path.parent / scenario.load.dataset).resolve()})
        scenario = scenario.model_copy(update={"load": load})
    if scenario.load.locustfile is not None:
        locustfile = (path.parent / scenario.load.locustfile).resolve()
        load = scenario.load.model_copy(update={"locustfile": locustfile})
        scenario = scenario.model_copy(update={"load": load})
    faults = [fault.with_files_under(path.parent) for fault in scenario.faults]
    scenario = scenario.model_copy(update={"faults": faults})
    return ScenarioFile(path=path, scenario=scenario, text=text)


def load_scenarios(
    paths: Iterable[Path], *, target: AnyTarget | None = None, allow_production: bool = False
) -> tuple[list[ScenarioFile], list[Problem]]:
    """Every valid scenario among ``paths`` (on ``target`` if given, see :func:`load_scenario`), and every
    problem of the others."""
    loaded, problems = list[ScenarioFile](), list[Problem]()
    for path in paths:
        try:
            loaded.append(load_scenario(path, target=target, allow_production=allow_production))
        except ScenarioInvalid as exc:
            problems += exc.problems
    return loaded, problems


def load_target(path: Path, *, allow_production: bool = False) -> tuple[AnyTarget | None, list[Problem]]:
    """A target file (``--target``, a suite's or a scenario's ``target: FILE``), or ``None`` and its problems."""
    try:
        target, _, _, problems = _validated(path, Target, allow_production=allow_production)
    except ScenarioInvalid as exc:
        return None, exc.problems
    return (None, problems) if problems else (target, [])


TARGET_FILE_SUFFIXES = (".yaml", ".yml")
"""A scenario's ``target:`` string ending so names a target file; any other string is a kind (``embedded``)."""


def _named_target(
    path: Path, nodes: Nodes, data: Any, *, read: bool, allow_production: bool
) -> tuple[Any, list[Problem]]:
    """``target: FILE.yaml`` in a scenario: the target in that file (relative to the scenario), whose problems
    are shown at that file's lines; a file that is not there, at the scenario's ``target:`` line. Unless ``read``
    (another target overrides it) the file is not read. Other data is returned as it is."""
    name = data.get("target") if isinstance(data, dict) else None
    if not (isinstance(name, str) and name.lower().endswith(TARGET_FILE_SUFFIXES)):
        return data, []
    stand_in = {**data, "target": "embedded"}  # validates the rest of the scenario while the file is reported
    if not read:
        return stand_in, []
    file = path.parent / name
    try:
        found = file.is_file()
    except (OSError, ValueError):  # ValueError: a NUL character, which no path may hold
        found = False
    if not found:
        looked = path.parent.resolve() / name  # not file.resolve(), which a NUL character makes raise
        message = f"target file '{name}': no such file (looked for {looked}; relative to the scenario)"
        return stand_in, [_located(path, nodes, ("target",), message)]
    target, problems = load_target(file, allow_production=allow_production)
    return (stand_in, problems) if target is None else ({**data, "target": target}, [])


def _validated(
    path: Path,
    annotation: Any,
    *,
    allow_production: bool = False,
    prepare: Callable[[Nodes, Any], tuple[Any, list[Problem]]] | None = None,
) -> tuple[Any, str, Nodes, list[Problem]]:
    """The model in ``path``, its text and nodes, and the problems that did not stop validation. ``prepare``
    may replace parts of the data first (a target file the scenario names), adding the problems it found."""
    try:
        text, nodes, data, problems = read(path)
    except Unusable as exc:
        raise ScenarioInvalid([exc.problem]) from None
    if prepare is not None:
        data, found = prepare(nodes, data)
        problems += found
    context = {ALLOW_PRODUCTION: allow_production}  # read by the targets' host checks
    try:
        return TypeAdapter(annotation).validate_python(data, context=context), text, nodes, problems
    except ValidationError as exc:
        problems += validation_problems(
            path, nodes, exc, annotation, tag_keys=_TAG_KEYS, registries=_REGISTRIES
        )
        raise ScenarioInvalid(problems) from None


def _located(path: Path, nodes: Nodes, loc: Loc, message: str) -> Problem:
    """A problem at ``loc`` in a scenario, whose unions pydantic told apart by :data:`_TAG_KEYS`."""
    return located(path, nodes, loc, message, tag_keys=_TAG_KEYS)


def _semantic_problems(
    path: Path, nodes: Nodes, scenario: Scenario, *, check_tiers: bool = True
) -> list[Problem]:
    """What the model cannot check alone: unique fault ids, verifiers' faults, the dataset, the locustfile, the
    template."""
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
    if check_tiers:
        problems += _tier_problems(path, nodes, scenario)
    problems += _service_problems(path, nodes, scenario)
    if scenario.load.dataset is not None:
        problems += _dataset_problems(path, nodes, scenario.load.dataset)
    problems += locustfile_problems(path, scenario, lambda loc, message: _located(path, nodes, loc, message))
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


def _tier_problems(path: Path, nodes: Nodes, scenario: Scenario) -> list[Problem]:
    """Tiers the steady state and the verifiers name that the target's ladder lacks (and verifiers that leave
    no tier to answer), and anything else verifiers name that its declaration lacks (a gauge), at the
    scenario's lines — whichever target the scenario will run on."""
    ladder = ladder_of(scenario.target)
    found = [(("steady_state", *loc), why) for loc, why in scenario.steady_state.ladder_problems(ladder)]
    for i, verifier in enumerate(scenario.verifiers):
        found += [(("verifiers", i, *loc), why) for loc, why in verifier.ladder_problems(ladder)]
        declared = verifier.declaration_problems(scenario.target.declaration)
        found += [(("verifiers", i, *loc), why) for loc, why in declared]
    return [_located(path, nodes, loc, message) for loc, message in found]


def _service_problems(path: Path, nodes: Nodes, scenario: Scenario) -> list[Problem]:
    """What faults ask of the service that its declaration rules out — a metamorphic relation on a feature its
    requests do not have, or expecting a score its answers do not report — at the scenario's lines."""
    declaration = scenario.target.declaration
    schema = _schema_before_the_run(path, scenario)
    found = [
        (("faults", i, *loc), why)
        for i, fault in enumerate(scenario.faults)
        for loc, why in fault.service_problems(declaration.response, schema)
    ]
    return [_located(path, nodes, loc, message) for loc, message in found]


def _schema_before_the_run(path: Path, scenario: Scenario) -> RequestSchema | None:
    """The request schema as far as it is known before the run: what the target declares, completed from the
    dataset; ``None`` while part of it is still to come (an OpenAPI spec, a templated load's bodies)."""
    declared = scenario.target.declaration.request
    dataset = scenario.load.dataset
    if declared.openapi is not None or (declared.infer_from_dataset and dataset is None):
        return None
    bodies: list[dict[str, Any]] = []
    if declared.infer_from_dataset and dataset is not None:
        file = path.parent / dataset
        # Missing, a device that would be read forever, or too large: the dataset check says so.
        if not file.is_file() or file.stat().st_size > MAX_DATASET_BYTES:
            return None
        try:
            with file.open("rb") as lines:
                for line in itertools.islice(lines, MAX_SCHEMA_BODIES):
                    with contextlib.suppress(ValueError):  # a bad line is the dataset check's to report
                        bodies.append(RequestTemplate.model_validate_json(line).body)
        except (OSError, ValueError):  # unreadable: reported by the dataset check
            return None
    predict_path = scenario.target.declaration.predict_path
    return resolve_schema(declared, bodies=bodies, openapi=None, predict_path=predict_path)


def _dataset_problems(path: Path, nodes: Nodes, dataset: Path) -> list[Problem]:
    """The dataset must be within its caps (:mod:`~mlchaos.experiments.file_limits`: it is replayed from memory)
    and its head hold one request per line (blank lines aside); the first bad lines say why."""
    file, problems, requests = path.parent / dataset, list[Problem](), 0
    try:
        # A device or a pipe (/dev/zero, /dev/stdin) would be read forever, or block: only plain files.
        if file.exists() and not file.is_file():
            return [_located(path, nodes, ("load", "dataset"), f"dataset '{dataset}': not a regular file")]
        check_size(file, MAX_DATASET_BYTES)
        with file.open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                requests += bool(line.strip())
                if number <= MAX_DATASET_LINES and line.strip() and (bad := _bad_request(line)):
                    problems.append(Problem(file, number, bad[1], "load.dataset", bad[0]))
    except FileTooLarge as exc:
        message = f"dataset '{dataset}' ({file.resolve()}) is {exc}, the most a load dataset may be"
        return [_located(path, nodes, ("load", "dataset"), message)]
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
    if requests > MAX_DATASET_ROWS:
        message = f"dataset '{dataset}' has {requests:,} requests; a load dataset may have at most {MAX_DATASET_ROWS:,}"
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
    """What is wrong with the templates in ``load.body`` — syntax, what the body sandbox refuses (loops, unknown
    filters), and limits one render already breaks (``{{ 7**100000 }}``) — which the load would only meet when
    it starts. Compiled and rendered in the load's own sandbox, so nothing here can run unbounded."""
    problems = []
    for loc, (_, node) in nodes.items():
        # The engine treats only strings with `{{` or `{%` as templates (load/bodies.py); the rest are plain.
        if (
            loc[:2] == ("load", "body")
            and isinstance(node, yaml.ScalarNode)
            and node.tag.endswith(":str")
            and ("{{" in node.value or "{%" in node.value)
            and (problem := template_problem(node.value)) is not None
        ):
            problems.append(_located(path, nodes, loc, problem))
    return problems
