"""Suite files: the list of scenarios a team runs together — the monthly run — and how they are reported.

A suite file::

    name: monthly                       # names the suite directory and the combined report
    description: The monthly resilience run of the fraud-scoring stack.
    target: targets/staging.yaml        # optional: overrides every scenario's target (as `run --target`)
    scenarios:                          # run in this order; paths relative to this file
      - feature-store-outage.yaml
      - primary-pod-kill.yaml
    publish:                            # optional: a webhook and a Pushgateway (docs/observability.md)
      webhook: {url_env: MLCHAOS_WEBHOOK_URL, when: regression}

Each problem of the suite file (a path that does not exist, an unknown field) is reported with its line, like a
scenario's. Every scenario is validated before the first one runs, so a typo fails the suite in seconds rather
than forty minutes in (``mlchaos validate`` on the suite's scenarios is the CI check for it). Once running, the
suite goes on past a scenario that fails, aborts or finds its target unusable: the monthly run is unattended, and
four results are worth more than none. Before the first scenario, runs under the output folder that died unfinished
(a CronJob pod lost with its node) are rolled back and reported
(:func:`~mlchaos.experiments.rollback.recover_unfinished`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlchaos.experiments.errors import InvalidInput
from mlchaos.experiments.publish.config import PublishConfig
from mlchaos.experiments.yaml_problems import (
    Loc,
    Nodes,
    Problem,
    Unusable,
    dotted,
    located,
    read,
    validation_problems,
)

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class SuiteSpec(BaseModel):
    """A suite file as written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME, max_length=80, description="Names the suite's directory and report.")
    description: str = ""
    target: Path | None = Field(None, description="A target file overriding every scenario's target.")
    scenarios: list[Path] = Field(min_length=1, description="Scenario files, run in order.")
    publish: PublishConfig | None = Field(
        None, description="Where the results go when the suite ends: a webhook, a Prometheus Pushgateway."
    )


class Suite(BaseModel):
    """A suite with every path resolved against the suite file's directory."""

    model_config = ConfigDict(frozen=True)

    path: Path
    name: str
    description: str
    target: Path | None
    scenarios: tuple[Path, ...]
    publish: PublishConfig | None = None
    """With a relative ``url_file`` resolved against the suite file's directory."""


class SuiteInvalid(InvalidInput):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def load_suite(path: Path) -> Suite:
    """The suite in ``path``; :class:`SuiteInvalid` with every problem of the file (not of its scenarios)."""
    try:
        _, nodes, data, problems = read(path)
    except Unusable as exc:
        raise SuiteInvalid([exc.problem]) from None
    spec = None
    try:
        spec = SuiteSpec.model_validate(data)
    except ValidationError as exc:
        problems += validation_problems(path, nodes, exc, SuiteSpec, tag_keys=(), registries={})
    problems += _path_problems(path, nodes, data)
    if problems or spec is None:
        raise SuiteInvalid(sorted(problems, key=lambda p: (p.line or 0, p.column or 0)))
    base = path.parent
    return Suite(
        path=path,
        name=spec.name,
        description=spec.description,
        target=None if spec.target is None else base / spec.target,
        scenarios=tuple(base / scenario for scenario in spec.scenarios),
        publish=None if spec.publish is None else spec.publish.resolved(base),
    )


def _path_problems(path: Path, nodes: Nodes, data: Any) -> list[Problem]:
    """Files the suite names that do not exist, and scenarios listed twice — checked on the raw data, so they
    are reported together with the model's problems, not after the author fixed those."""
    base, problems = path.parent, []
    named: list[tuple[Loc, str]] = []
    if isinstance(data.get("target"), str):
        named.append((("target",), data["target"]))
    scenarios = data.get("scenarios")
    if isinstance(scenarios, list):
        named += [(("scenarios", i), ref) for i, ref in enumerate(scenarios) if isinstance(ref, str)]
    seen: dict[Path, Loc] = {}
    for loc, ref in named:
        file = base / ref
        if not file.is_file():
            message = f"no such file: {file} (paths are relative to the suite file)"
            problems.append(located(path, nodes, loc, message, tag_keys=()))
        elif loc[0] == "scenarios" and (resolved := file.resolve()) in seen:
            message = f"listed twice (also {dotted(seen[resolved])}); a suite runs each scenario once"
            problems.append(located(path, nodes, loc, message, tag_keys=()))
        elif loc[0] == "scenarios":
            seen[file.resolve()] = loc
    return problems
