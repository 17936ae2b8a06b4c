"""Metamorphic tests under load (docs/glossary.md): a declared relation turns a clean request into a
pair — the original and its transformation — sent back to back, both tagged ``metamorphic:<relation name>`` with
one ``pair`` id; ``expected`` is ``original`` on the first and the relation's effect (``same``/``higher``/
``lower``) on the second. The operations are declared in :mod:`mlchaos.experiments.inputs.relations`.

The original is the clean request with the operation's field *set* to where the pair starts (``100`` for
``as_float``, ``from`` for ``set``), so both sides differ only by the transformation. A request whose field is
not a number cannot be added to, multiplied or rewritten as a float: :func:`pair` returns ``None`` and the
request goes out clean — a value is never invented for a feature the request does not carry.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from mlchaos.experiments.inputs.outgoing import Outgoing, encode
from mlchaos.experiments.inputs.paths import get_path, has_path, set_path
from mlchaos.experiments.inputs.relations import (
    Add,
    AsFloat,
    Multiply,
    PrettyPrint,
    Relation,
    ReorderKeys,
    SetValue,
)
from mlchaos.experiments.inputs.schema import Feature, FeatureType
from mlchaos.experiments.inputs.send import Send, UserInputs

ORIGINAL = "original"

Features = Mapping[str, Feature]


class MetamorphicSend(Send):
    """Metamorphic pairs: a clean request and its transformation by one of the declared ``relations`` (drawn
    per pair), back to back."""

    kind: Literal["metamorphic"] = "metamorphic"
    relations: tuple[Relation, ...] = Field(min_length=1)

    def describe(self) -> str:
        return "metamorphic pairs: " + ", ".join(f"{r.name} ({r.expect.value})" for r in self.relations)

    def make(self, raw: bytes, user: UserInputs) -> Outgoing | None:
        pair_id = f"{user.fault_id}/{user.index}/{user.seq}"
        made = pair(user.rng.choice(self.relations), json.loads(raw), pair_id, user.schema.features)
        if made is None:  # the request lacks the number the relation starts from: it goes out clean
            return None
        original, transformed = made
        user.queue(transformed)
        return original


def pair(
    relation: Relation, body: dict[str, Any], pair_id: str, features: Features | None = None
) -> tuple[Outgoing, Outgoing] | None:
    """The original request and its transformation, or ``None`` when ``body`` cannot carry the relation.

    ``features`` is the resolved request schema: ``add`` and ``multiply`` stay within a feature's min/max and
    keep an integer feature an integer.
    """
    path = relation.field_path
    made = _apply(relation, body, (features or {}).get(path) if path else None)
    if made is None:
        return None
    original, transformed = made
    tag = f"metamorphic:{relation.name}"
    return (
        Outgoing(original, input=tag, pair=pair_id, expected=ORIGINAL),
        Outgoing(transformed, input=tag, pair=pair_id, expected=relation.expect.value),
    )


def _apply(relation: Relation, body: dict[str, Any], feature: Feature | None) -> tuple[bytes, bytes] | None:
    if isinstance(relation, ReorderKeys):
        return encode(body), encode(_reversed(body))
    if isinstance(relation, PrettyPrint):
        return encode(body), json.dumps(body, indent=4, separators=(" , ", " : ")).encode()
    if isinstance(relation, SetValue):
        if not _can_hold(body, relation.field):
            return None
        original = set_path(body, relation.field, relation.from_)
        return encode(original), encode(set_path(body, relation.field, relation.to))
    value = get_path(body, relation.field)
    if not _is_number(value):
        return None
    if isinstance(relation, AsFloat):
        whole = _whole(value, feature)
        # json.dumps writes 100.0 for float(100): the only difference between the two is the ".0"
        start, moved = whole, float(whole)
    elif isinstance(relation, Add):
        start, moved = value, _bounded(value + relation.value, value, feature)
    else:
        assert isinstance(relation, Multiply)
        start, moved = value, _bounded(value * relation.factor, value, feature)
    return encode(set_path(body, relation.field, start)), encode(set_path(body, relation.field, moved))


def _can_hold(body: dict[str, Any], path: str) -> bool:
    """Whether ``body`` has the feature at ``path``, or at least the object that would hold it: a set relation
    writes its value there, but never invents the objects around it."""
    parent, _, _ = path.rpartition(".")
    return has_path(body, path) or not parent or isinstance(get_path(body, parent), dict)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: float, feature: Feature | None) -> int:
    """``value`` rounded to a whole number within the feature's bounds."""
    whole = round(value)
    if feature is not None and feature.min is not None:
        whole = max(whole, math.ceil(feature.min))
    if feature is not None and feature.max is not None:
        whole = min(whole, math.floor(feature.max))
    return whole


def _bounded(moved: float, before: float, feature: Feature | None) -> float | int:
    """``moved`` clamped to the feature's min/max; an integer stays an integer (a feature the schema types as
    integer, or, without a schema, a whole number that stays whole)."""
    low = feature.min if feature is not None else None
    high = feature.max if feature is not None else None
    integer = (
        feature.type is FeatureType.INTEGER
        if feature is not None
        else isinstance(before, int) and float(moved).is_integer()
    )
    if integer:
        low = None if low is None else math.ceil(low)
        high = None if high is None else math.floor(high)
        moved = round(moved)
    if low is not None:
        moved = max(moved, low)
    if high is not None:
        moved = min(moved, high)
    return moved


def _reversed(value: Any) -> Any:
    """Every object's keys in reverse order, at every level (lists keep their order: it means something)."""
    if isinstance(value, dict):
        return {key: _reversed(item) for key, item in reversed(value.items())}
    if isinstance(value, list):
        return [_reversed(item) for item in value]
    return value
