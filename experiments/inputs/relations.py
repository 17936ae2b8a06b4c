"""Metamorphic relations as a scenario declares them: a name, an operation that turns a clean request into a pair
(the original and the transformed request), and the effect the transformation must have on the answer.

::

    relations:
      - {name: key_order, operation: reorder_keys, expect: same}
      - {name: basket_up, operation: add, field: basket.items, value: 1, expect: higher}
      - {name: night, operation: set, field: night, from: false, to: true, expect: higher}

Each request of a pair is tagged ``metamorphic:<name>``; the transformed one carries ``expected`` = the effect
(see :mod:`mlchaos.experiments.inputs.metamorphic`, which applies the operations). Fields are feature paths of the
request schema (``a.b`` for a nested one); ``higher``/``lower`` compare the answers' scores, so they need the
target to declare ``response.score``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlchaos.experiments.inputs.schema import Feature, FeaturePath, FeatureType

_MODEL = ConfigDict(extra="forbid", frozen=True)

RelationName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]*$", max_length=60)]
Scalar = bool | int | float | str
"""A JSON value a ``set`` relation may write: a flag, a number, a category or an identifier."""


class Effect(enum.StrEnum):
    """What the transformation must do to the answer."""

    SAME = "same"
    """The prediction must not change (nor the score, when the target reports one)."""
    HIGHER = "higher"
    """The score must not go down."""
    LOWER = "lower"
    """The score must not go up."""

    @property
    def needs_score(self) -> bool:
        return self is not Effect.SAME


class _Relation(BaseModel):
    model_config = _MODEL

    name: RelationName = Field(description="Tags the pair's requests `metamorphic:<name>`; unique per fault.")
    expect: Effect = Field(
        description="same, higher or lower: what the transformation must do to the answer."
    )

    @property
    def field_path(self) -> str | None:
        """The feature the operation acts on; ``None`` for operations on the whole body."""
        return None


class ReorderKeys(_Relation):
    """The whole body with its keys in reverse order, at every level: irrelevant to any reader of JSON."""

    operation: Literal["reorder_keys"]


class PrettyPrint(_Relation):
    """The whole body re-serialised with indentation and spaces around ``,`` and ``:``: the same JSON."""

    operation: Literal["pretty_print"]


class _OnField(_Relation):
    field: FeaturePath = Field(description="The feature (path in the body) the operation changes.")

    @property
    def field_path(self) -> str | None:
        return self.field


class AsFloat(_OnField):
    """A number written two ways: the original sends it as a whole number (``100``), the transformed one as
    ``100.0``. A request whose field is not a number goes out clean."""

    operation: Literal["as_float"]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value}")
    return value


class Add(_OnField):
    """``value`` added to the field (a number), kept within the feature's min/max when the schema knows them;
    an integer feature stays an integer. A request whose field is not a number goes out clean."""

    operation: Literal["add"]
    value: float = Field(description="What to add (negative to subtract).")

    @field_validator("value")
    @classmethod
    def _moves(cls, value: float) -> float:
        if _finite(value) == 0:
            raise ValueError("adding 0 changes nothing: the pair would be two identical requests")
        return value


class Multiply(_OnField):
    """The field (a number) multiplied by ``factor``, kept within the feature's min/max when the schema knows
    them; an integer feature stays an integer. A request whose field is not a number goes out clean."""

    operation: Literal["multiply"]
    factor: float = Field(description="What to multiply by.")

    @field_validator("factor")
    @classmethod
    def _moves(cls, factor: float) -> float:
        if _finite(factor) == 1:
            raise ValueError("multiplying by 1 changes nothing: the pair would be two identical requests")
        return factor


class SetValue(_OnField):
    """The field set to ``from`` in the original and to ``to`` in the transformed request (a flag false → true,
    one category → another)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    operation: Literal["set"]
    from_: Scalar = Field(alias="from", description="The value the original request carries.")
    to: Scalar = Field(description="The value the transformed request carries.")

    @model_validator(mode="after")
    def _differ(self) -> SetValue:
        if type(self.from_) is type(self.to) and self.from_ == self.to:
            raise ValueError(f"from and to are both {self.to!r}: the pair would be two identical requests")
        return self


Relation = Annotated[
    Union[ReorderKeys, PrettyPrint, AsFloat, Add, Multiply, SetValue],  # noqa: UP007
    Field(discriminator="operation"),
]
"""One declared relation; ``operation`` says which."""


@dataclass(frozen=True)
class RelationProblem:
    """Why a relation cannot run against a service: ``index`` in the fault's ``relations``, the ``key`` at fault."""

    index: int
    key: str
    message: str


def relation_problems(
    relations: Sequence[Relation], *, features: Mapping[str, Feature], score_field: str | None
) -> list[RelationProblem]:
    """What is wrong with ``relations`` for a service whose answers report their score at ``score_field``
    (``None``: not at all) and whose requests carry ``features`` (empty: unknown, nothing checked), in the
    order of the relations."""
    found = score_problems(relations, score_field) + feature_problems(relations, features)
    return sorted(found, key=lambda problem: problem.index)


def score_problems(relations: Sequence[Relation], score_field: str | None) -> list[RelationProblem]:
    """``higher``/``lower`` relations on a service whose answers report no score: they could never be judged."""
    if score_field is not None:
        return []
    return [
        RelationProblem(
            index,
            "expect",
            f"relation '{relation.name}' expects a {relation.expect.value} score, and the target declares no "
            "response.score to read scores from: declare it, or expect 'same'",
        )
        for index, relation in enumerate(relations)
        if relation.expect.needs_score
    ]


def feature_problems(relations: Sequence[Relation], features: Mapping[str, Feature]) -> list[RelationProblem]:
    """Relations on a feature the request schema lacks, or whose operation does not fit the feature (empty
    ``features``: the schema is unknown, nothing is checked)."""
    found: list[RelationProblem] = []
    for index, relation in enumerate(relations):
        path = relation.field_path
        if path is None or not features:
            continue
        feature = features.get(path)
        if feature is None:
            known = ", ".join(features)
            message = f"relation '{relation.name}': no feature '{path}' in the request schema; its features: {known}"
            found.append(RelationProblem(index, "field", message))
        elif (mismatch := _mismatch(relation, path, feature)) is not None:
            found.append(RelationProblem(index, mismatch[0], f"relation '{relation.name}': {mismatch[1]}"))
    return found


def _mismatch(relation: Relation, path: str, feature: Feature) -> tuple[str, str] | None:
    """The key and the reason when the operation does not fit the feature's type, range or choices."""
    if not isinstance(relation, SetValue):
        if feature.numeric:
            return None
        return (
            "operation",
            f"{relation.operation} needs a number or integer feature; '{path}' is {feature.type}",
        )
    for key, value in (("from", relation.from_), ("to", relation.to)):
        if (reason := _misfit(value, feature)) is not None:
            return key, f"{key} {value!r} {reason} for feature '{path}'"
    return None


def _misfit(value: Scalar, feature: Feature) -> str | None:
    """Why ``value`` is not a valid value of ``feature``, or ``None``."""
    if feature.type is FeatureType.BOOL:
        return None if isinstance(value, bool) else "is not true or false"
    if feature.type is FeatureType.ID:
        return None if isinstance(value, str) else "is not a string"
    if feature.type is FeatureType.CATEGORY:
        known = any(type(choice) is type(value) and choice == value for choice in feature.choices)
        return (
            None
            if known or not feature.choices
            else f"is none of the choices ({', '.join(map(str, feature.choices))})"
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"is not a number ({feature.type})"
    if feature.type is FeatureType.INTEGER and not float(value).is_integer():
        return "is not a whole number"
    low, high = feature.min, feature.max
    if (low is not None and value < low) or (high is not None and value > high):
        return f"is outside [{'−∞' if low is None else f'{low:g}'}, {'∞' if high is None else f'{high:g}'}]"
    return None
