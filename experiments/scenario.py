"""A scenario, as its YAML file declares it: what to run against, under which load, which faults when, and what
must be true for the run to pass. :mod:`mlchaos.experiments.loader` turns a file into a :class:`Scenario`.

A run has four phases, in order, after an optional warm-up::

    [warmup (load.warmup)] ▶ baseline (steady_state.window) ▶ fault (until the last fault ends) ▶ recovery ▶
    after (steady_state.window)

Fault offsets (``at``) count from the start of the fault phase. The steady state must hold in ``baseline`` (else
the experiment proves nothing and is aborted) and again in ``after``. Nothing in the warm-up is judged: the load
runs so that a cold service (caches, JIT, connection pools) is warm when the baseline starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mlchaos.experiments.durations import PositiveSeconds, Seconds
from mlchaos.experiments.http_bounds import DEFAULT_MAX_RESPONSE_BYTES
from mlchaos.experiments.redaction import redact_data
from mlchaos.experiments.targets import EmbeddedTarget, Target
from mlchaos.experiments.verifiers import AnyVerifier
from mlchaos.experiments.verifiers.steady_state import SteadyState
from mlchaos.injectors import AnyFault


def _target_shorthand(value: object) -> object:
    """``target: embedded`` is short for ``target: {kind: embedded}``. (``target: FILE.yaml`` names a target
    file, which the loader reads before the scenario is validated.)"""
    if isinstance(value, str) and ("/" in value or "." in value):
        raise ValueError(
            f"expected a target kind (embedded), a mapping, or a target file ending .yaml or .yml, got {value!r}"
        )
    return {"kind": value} if isinstance(value, str) else value


TargetFileName = Annotated[str, Field(pattern=r"\.[Yy][Aa]?[Mm][Ll]$")]
# What `target:` may be written as: the JSON Schema of scenario files (`mlchaos schema`) must accept the
# shorthand and file forms that _target_shorthand and the loader take, not only the mapping.
_TargetAsWritten = Target | Literal["embedded"] | TargetFileName
ScenarioTarget = Annotated[
    Target, BeforeValidator(_target_shorthand, json_schema_input_type=_TargetAsWritten)
]


class LoadConfig(BaseModel):
    """The traffic Locust sends during the whole run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    users: int = Field(8, ge=1, le=1000, description="Concurrent simulated users.")
    spawn_rate: float | None = Field(
        None, gt=0, description="Users started per second; default: all at once."
    )
    wait: tuple[Seconds, Seconds] = Field(
        (0.02, 0.08), description="Each user waits a random time in [min, max] between its requests."
    )
    dataset: Path | None = Field(
        None,
        description="JSONL file of request bodies, relative to the scenario file; each line is "
        '{"body": {...}, "label": "..."} (label optional: requests with one are canaries).',
    )
    body: dict[str, Any] | None = Field(
        None,
        description="A request body whose string values may be Jinja2 expressions, rendered per request.",
    )
    locustfile: Path | None = Field(
        None,
        description="The team's own Locust users (a .py file relative to the scenario) instead of mlchaos' own: "
        "they run against the target's service URL and every request they make is recorded, read with the "
        "target's response fields. `wait` and `path` are then theirs to set (`request_timeout` and "
        "`max_response_bytes` still bound each of their requests); input faults "
        "cannot be mixed into their requests.",
    )
    user_classes: tuple[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], ...] | None = Field(
        None,
        min_length=1,
        description="Which User classes of the locustfile to run; default: every one it defines, as Locust does.",
    )
    request_timeout: PositiveSeconds = Field(
        5.0,
        description="The total deadline of each request — connecting, sending and reading the whole answer, not "
        "per read — for every request the load sends (a locustfile's users' too) and the adversarial attack's: "
        "one not answered in full by then is recorded as a timeout.",
    )
    max_response_bytes: int = Field(
        DEFAULT_MAX_RESPONSE_BYTES,
        ge=1024,
        description="The largest answer the load reads (bytes, after decompression): a larger one is recorded as "
        "an error ('answer larger than N bytes') as soon as it passes this, never held whole. Default 1 MiB.",
    )
    warmup: Seconds = Field(
        0.0,
        description="How long the load runs before the baseline, judged by nothing: time for a cold service to "
        "warm up (caches, JIT, connection pools). Shown on the timeline.",
    )
    path: str | None = Field(None, description="Request path; default: the target's predict path.")
    workers: int = Field(
        0,
        ge=0,
        le=64,
        description="0: one process sends all requests. N: a Locust master hands the users to N worker "
        "processes (local ones, or worker pods with `--worker-bind`) when one process cannot drive the load; "
        "every request is recorded either way.",
    )

    # A field validator, not the model validator below: the error's location is then load.wait, and the loader
    # points at the `wait:` line.
    @field_validator("wait")
    @classmethod
    def _min_before_max(cls, wait: tuple[float, float]) -> tuple[float, float]:
        if wait[0] > wait[1]:
            raise ValueError(f"expected [min, max] with min ≤ max, got min {wait[0]:g}s > max {wait[1]:g}s")
        return wait

    @field_validator("user_classes")  # field validators, so that the loader points at the line in question
    @classmethod
    def _classes_of_a_locustfile(
        cls, names: tuple[str, ...] | None, info: ValidationInfo
    ) -> tuple[str, ...] | None:
        if names is not None and info.data.get("locustfile") is None:
            raise ValueError("user_classes name classes of a locustfile: set load.locustfile, or drop this")
        return names

    @field_validator("path")
    @classmethod
    def _path_of_own_user(cls, path: str | None, info: ValidationInfo) -> str | None:
        if path is not None and info.data.get("locustfile") is not None:
            raise ValueError("a locustfile's users choose their own paths: drop load.path")
        return path

    @field_validator("workers")  # a field validator, so that the loader points at the `workers:` line
    @classmethod
    def _workers_have_users(cls, workers: int, info: ValidationInfo) -> int:
        users = info.data.get("users")
        if users is not None and workers > users:
            raise ValueError(f"expected at most users ({users}) workers: each worker runs at least one user")
        return workers

    @model_validator(mode="after")
    def _one_source(self) -> LoadConfig:
        if sum(source is not None for source in (self.dataset, self.body, self.locustfile)) != 1:
            raise ValueError(
                "load needs exactly one of 'dataset' (a JSONL file), 'body' (a request template) or "
                "'locustfile' (your own Locust users)"
            )
        return self


class Guardrail(BaseModel):
    """An abort condition evaluated live: when ``metric`` stays above ``above`` for ``for`` seconds, the run stops
    injecting, reverts everything and exits 3."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    metric: Literal["error_rate", "p99_ms"]
    above: float = Field(gt=0)
    for_: PositiveSeconds = Field(alias="for")

    def describe(self) -> str:
        bound = f"{self.above:.0%}" if self.metric == "error_rate" else f"{self.above:g} ms"
        return f"{self.metric} > {bound} for {self.for_:g}s"


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9._-]*$",
        max_length=80,
        description="Names the run directory and its report.",
    )
    description: str = Field("", description="One line for the report and the console.")
    target: ScenarioTarget = Field(
        EmbeddedTarget(),
        description="What to run against: `embedded`, a target mapping, or a target file (FILE.yaml, relative "
        "to the scenario). `--target` and a suite's target override it.",
    )
    load: LoadConfig = Field(description="The traffic sent during the whole run.")
    steady_state: SteadyState = Field(
        SteadyState(), description="What must hold in the baseline (else the run aborts) and after recovery."
    )
    faults: list[AnyFault] = Field(min_length=1, description="The faults, each at its offset `at`.")
    recovery: Seconds = Field(
        10.0, description="Time allowed after the last fault ends before the after-window."
    )
    verifiers: list[AnyVerifier] = Field(
        min_length=1, description="What must be true of the recorded run for it to pass."
    )
    abort_when: list[Guardrail] = Field(
        default_factory=list, description="Guardrails that stop the run early (exit 3, everything reverted)."
    )

    @property
    def fault_span(self) -> float:
        """Length of the fault phase: until the last fault ends."""
        return max(f.at + f.duration for f in self.faults)

    @property
    def duration(self) -> float:
        """Planned length of the whole run under load, warm-up included."""
        return self.load.warmup + 2 * self.steady_state.window + self.fault_span + self.recovery


def scenario_record(scenario: Scenario) -> str:
    """The scenario as it will run — every default filled in, secrets masked — for the run directory.

    Header values are masked by their type (``SecretStr``), secrets in URLs (``?token=``) by :func:`redact_data`:
    the scenario still holds the real values, which the run uses."""
    document = redact_data(scenario.model_dump(mode="json", by_alias=True))
    header = "# The scenario as run: defaults filled in, secrets masked.\n"
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


class ScenarioFile(BaseModel):
    """A scenario and where it came from (for error messages and for resolving relative paths)."""

    model_config = ConfigDict(frozen=True)

    path: Path
    scenario: Scenario
    text: str
