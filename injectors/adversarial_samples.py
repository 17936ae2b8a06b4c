"""``adversarial_samples``: a share of the requests in the window are adversarial samples — inputs a small change
away from a clean one that the model answers differently — either

- supplied (``samples``: a JSONL file next to the scenario, one ``{"input": {...}, "clean": {...}, "label":
  "fraud"}`` per line, ``clean`` and ``label`` optional), tagged ``adversarial:supplied``; or
- generated (``attack``): a decision-based boundary search (HopSkipJump-style, see
  :mod:`mlchaos.experiments.attacks.boundary`) run against the live target as a black box, under a query budget,
  from clean requests of the scenario's dataset, moving the numeric features of the request schema (or the ones
  the scenario names; see :mod:`mlchaos.experiments.attacks.features`); tagged ``adversarial:boundary``. It
  needs only the target's prediction (``response.prediction``): a target that reports no score is attacked too.

The samples are made after preflight and before the load starts (:meth:`AdversarialSamplesInjector.prepare`),
written to ``RUN_DIR/adversarial-<fault id>.jsonl`` and replayed during the window, each with a ``pair`` id and
``expected`` = the clean counterpart's prediction (asked of the target before the load for supplied samples; the
true label stands in when a supplied sample has no clean counterpart). ``inject``/``revert`` only mark the
window in the journal.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlchaos.experiments.attacks import AttackResult, FeatureRange, QueryFailedError, boundary_attack
from mlchaos.experiments.attacks.features import schema_ranges, unknown_features
from mlchaos.experiments.attacks.target import http_query
from mlchaos.experiments.inputs.replay import ReplaySample, ReplaySend
from mlchaos.experiments.inputs.schema import FeaturePath, RequestSchema
from mlchaos.experiments.targets import ResponseFields, TargetEndpoints
from mlchaos.injectors.base import (
    FaultPlan,
    FileProblem,
    InjectorError,
    InputContext,
    InputFaultSpec,
    OnPreparedRequests,
    Prepared,
    TargetMisconfigured,
    Undo,
)

MAX_PROBLEMS = 10
_LINE = '{"input": {...}, "clean": {...}, "label": "..."}'


class AttackFeature(BaseModel):
    """A numeric request feature the attack may move, within [low, high]."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: FeaturePath = Field(description="A numeric feature of the request schema (a path in the body).")
    low: float
    high: float
    integer: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> AttackFeature:
        if not self.high > self.low:
            raise ValueError(f"feature {self.name!r}: high ({self.high:g}) must be above low ({self.low:g})")
        return self


class Attack(BaseModel):
    """A black-box boundary attack run against the target before the load."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    budget: int = Field(600, ge=1, le=100_000, description="Most requests the attack may send to the target.")
    inputs: int = Field(12, ge=1, le=1000, description="Clean dataset requests to attack.")
    seed: int | None = Field(None, description="Default: the run's seed (stable per scenario).")
    max_distance: float = Field(
        0.1, gt=0, le=1, description="Largest normalised L2 change (over the features' ranges) that counts."
    )
    features: tuple[AttackFeature, ...] | None = Field(
        None,
        min_length=1,
        description="The features to move and their ranges; default: every numeric feature of the request "
        "schema, over its typical range widened by a tenth (within its min/max).",
    )


class SuppliedSample(BaseModel):
    """One line of a supplied sample file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: dict[str, Any]
    clean: dict[str, Any] | None = None
    label: str | None = None


class AdversarialSamples(InputFaultSpec):
    type: Literal["adversarial_samples"]
    samples: Path | None = Field(
        None, description="JSONL of supplied samples, relative to the scenario file."
    )
    attack: Attack | None = None

    @model_validator(mode="after")
    def _one_source(self) -> AdversarialSamples:
        if (self.samples is None) == (self.attack is None):
            raise ValueError("adversarial_samples needs exactly one of 'samples' (a JSONL file) or 'attack'")
        return self

    def with_files_under(self, base: Path) -> AdversarialSamples:
        if self.samples is None:
            return self
        return self.model_copy(update={"samples": (base / self.samples).resolve()})

    def file_problems(self, base: Path) -> list[FileProblem]:
        if self.samples is None:
            return []
        return read_supplied(base / self.samples)[1]

    def service_problems(
        self, response: ResponseFields, schema: RequestSchema | None
    ) -> list[tuple[tuple[int | str, ...], str]]:
        """Attack features that are not numeric features of the request schema."""
        if self.attack is None or self.attack.features is None or schema is None:
            return []
        return [
            (("attack", "features", index, "name"), problem)
            for index, feature in enumerate(self.attack.features)
            for problem in unknown_features([feature.name], schema)
        ]


MAX_SUPPLIED_BYTES = 64 * 1024 * 1024
"""Supplied sets are replayed from memory; one larger than this is a mistake (a wrong path), not a sample set."""


def read_supplied(path: Path) -> tuple[list[SuppliedSample], list[FileProblem]]:
    """The samples in ``path``, and the problems of its bad lines (the first few)."""
    samples, problems = list[SuppliedSample](), list[FileProblem]()
    if "\x00" in str(path):
        return [], [FileProblem(path, None, "adversarial samples: the path contains a NUL character")]
    try:
        if path.exists() and not path.is_file():  # a device or a FIFO would be read forever, or block
            return [], [FileProblem(path, None, "adversarial samples: not a regular file")]
        if path.stat().st_size > MAX_SUPPLIED_BYTES:
            size = f"{path.stat().st_size:,} bytes; at most {MAX_SUPPLIED_BYTES:,}"
            return [], [FileProblem(path, None, f"adversarial samples: file too large ({size})")]
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        found = f"not found (looked for {path.resolve()})" if isinstance(exc, FileNotFoundError) else exc
        return [], [FileProblem(path, None, f"adversarial samples: {found}")]
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            samples.append(SuppliedSample.model_validate(json.loads(line)))
        except UnicodeDecodeError:
            problems.append(FileProblem(path, number, "not UTF-8 text"))
        except json.JSONDecodeError as exc:
            problems.append(FileProblem(path, number, f"not JSON ({exc.msg}); expected {_LINE}"))
        except ValidationError as exc:
            found = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in exc.errors())
            problems.append(FileProblem(path, number, f"expected {_LINE}; {found}"))
    if not samples and not problems:
        problems.append(FileProblem(path, None, f"no samples; expected {_LINE} lines"))
    return samples, problems[:MAX_PROBLEMS]


class AdversarialSamplesUndo(Undo):
    service_url: str


class AdversarialSamplesInjector:
    spec = AdversarialSamples
    undo = AdversarialSamplesUndo
    sends = (ReplaySend,)

    def plan(self, spec: AdversarialSamples, target: TargetEndpoints) -> FaultPlan[AdversarialSamplesUndo]:
        if spec.attack is not None:
            attacked = spec.attack.features
            names = ", ".join(f.name for f in attacked) if attacked else "the schema's numeric features"
            source = (
                f"generated before the load by a boundary attack on {spec.attack.inputs} clean inputs "
                f"({names}; at most {spec.attack.budget} queries)"
            )
        else:
            source = f"supplied in {spec.samples}"
        return FaultPlan(
            touches=(
                f"the requests sent to {target.service_url} ({spec.share:.0%} adversarial)",
                *(
                    (f"{target.service_url}: up to {spec.attack.budget} attack queries before the load",)
                    if spec.attack
                    else ()
                ),
            ),
            description=f"replay adversarial samples ({source}) in {spec.share:.0%} of the requests "
            f"for {spec.duration:g}s",
            undo=AdversarialSamplesUndo(service_url=target.service_url),
            acts_on=OnPreparedRequests(share=spec.share, prepare=functools.partial(self.prepare, spec)),
        )

    def prepare(self, spec: AdversarialSamples, context: InputContext) -> Prepared:
        """Make the samples against the live target; written to ``RUN_DIR/adversarial-<id>.jsonl``."""
        query = http_query(
            context.target.service_url,
            context.target.predict_path,
            context.target.headers,
            context.request_timeout_s,
            prediction_field=context.target.response.prediction,
            score_field=context.target.response.score,
            max_bytes=context.max_response_bytes,
        )
        with query:
            attack = spec.attack
            samples, rows, summary = (
                _attack(spec, attack, context, query) if attack else _supplied(spec, query)
            )
        _write_jsonl(context.run_dir / f"adversarial-{spec.id}.jsonl", rows)
        return Prepared(ReplaySend(samples=tuple(samples)), summary)

    def check(self, undo: AdversarialSamplesUndo) -> None:
        """Nothing to check on the target: preflight already checked it answers."""

    def inject(self, spec: AdversarialSamples, undo: AdversarialSamplesUndo) -> None:
        """The samples are already programmed into the load; the journal entry marks the window's start."""

    def revert(self, undo: AdversarialSamplesUndo) -> None:
        """The window closes by itself; there is nothing on the target to undo."""


_Made = tuple[list[ReplaySample], list[dict[str, Any]], str]


def _attack(spec: AdversarialSamples, attack: Attack, context: InputContext, query: Any) -> _Made:
    if not context.clean:
        raise InjectorError(
            f"fault '{spec.id}': the attack starts from clean requests, and the scenario's load has none "
            "(use load.dataset rather than a body template)"
        )
    seed = context.seed if attack.seed is None else attack.seed
    picked = random.Random(seed).sample(list(context.clean), min(attack.inputs, len(context.clean)))
    features = _features(spec, attack, context.schema)
    result: AttackResult = boundary_attack(
        picked, features, query, budget=attack.budget, seed=seed, max_distance=attack.max_distance
    )
    samples = [
        ReplaySample(
            body=s.adversarial,
            input="adversarial:boundary",
            pair=f"{spec.id}/{i}",
            expected=s.clean_prediction,
        )
        for i, s in enumerate(result.samples)
    ]
    rows = [{"pair": f"{spec.id}/{i}", **asdict(s)} for i, s in enumerate(result.samples)]
    summary = (
        f"boundary attack on {', '.join(f.name for f in features)}: "
        f"{len(samples)} adversarial samples from {len(picked)} clean inputs, "
        f"{result.queries}/{result.budget} queries, seed {seed}"
    )
    return samples, rows, summary


def _features(spec: AdversarialSamples, attack: Attack, schema: RequestSchema) -> list[FeatureRange]:
    """The scenario's features (numeric features of the schema, when it has any), else the schema's own."""
    if attack.features is not None:
        wrong = unknown_features((f.name for f in attack.features), schema)
        if wrong:
            raise TargetMisconfigured(f"fault '{spec.id}': attack.features: {'; '.join(wrong)}")
        return [FeatureRange(f.name, f.low, f.high, f.integer) for f in attack.features]
    ranges = schema_ranges(schema)
    if not ranges:
        raise TargetMisconfigured(
            f"fault '{spec.id}': the attack moves numeric features, and the request schema has none with a known "
            f"range (its features: {schema.describe()}); declare them in the target's request.features (with "
            "min/max or typical), or name them in attack.features with their ranges"
        )
    return list(ranges)


def _supplied(spec: AdversarialSamples, query: Any) -> _Made:
    assert spec.samples is not None
    supplied, problems = read_supplied(spec.samples)
    if problems:
        raise InjectorError(
            f"fault '{spec.id}': {problems[0].file}:{problems[0].line}: {problems[0].message}"
        )
    samples, rows, asked = [], [], 0
    for i, sample in enumerate(supplied):
        expected = sample.label
        if sample.clean is not None:
            asked += 1
            expected = _clean_prediction(query, sample.clean) or expected
        pair = f"{spec.id}/{i}"
        samples.append(
            ReplaySample(body=sample.input, input="adversarial:supplied", pair=pair, expected=expected)
        )
        rows.append({"pair": pair, **sample.model_dump(exclude_none=True), "expected": expected})
    return samples, rows, f"{len(samples)} supplied samples; {asked} clean counterparts asked of the target"


def _clean_prediction(query: Any, clean: dict[str, Any]) -> str | None:
    try:
        answer = query(clean)
    except QueryFailedError:
        return None
    prediction: str = answer.prediction
    return prediction


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, separators=(",", ":")) + "\n")


INJECTOR = AdversarialSamplesInjector()
