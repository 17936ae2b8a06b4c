"""The resolved request schema: what the target declares, completed from the service's OpenAPI spec and from the
scenario's dataset, field by field.

For each feature, every field (``type``, ``min``, ``max``, ``typical``, ``choices``, ``required``) comes from the
first source that says something about it:

1. the target's declaration (``request.features``; only the fields it sets);
2. the OpenAPI spec's request body of ``POST <predict path>`` (:mod:`~mlchaos.experiments.inputs.openapi`):
   type, ``minimum``/``maximum``, ``enum``, ``required``;
3. the dataset's bodies (or, for a templated load, bodies rendered from the template), observed: a feature's type
   is its values' (all whole numbers → ``integer``, other numbers → ``number``, booleans → ``bool``; strings →
   ``category`` when at most :data:`MAX_CATEGORIES` distinct values each seen twice on average, else ``id``),
   ``typical`` the observed [min, max], ``choices`` the observed values, most common first, and ``required``
   false when some bodies lack it.

Fields that do not fit the feature's type are dropped (an OpenAPI ``maximum`` on a feature declared ``category``).
Features keep the order declared → OpenAPI → dataset, which makes "the first numeric feature" well defined.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from mlchaos.experiments.inputs.openapi import Partial, openapi_features
from mlchaos.experiments.inputs.paths import leaves
from mlchaos.experiments.inputs.schema import FEATURE_PATH, Choice, Feature, FeatureType, RequestSchema

MAX_BODIES = 10_000
"""Bodies observed at most (the first ones): enough for ranges and categories, bounded for large datasets."""
MAX_FEATURES = 500
"""Features inferred from the dataset at most (the first seen): a body with a long vector stays manageable."""
MAX_CATEGORIES = 20
MAX_TRACKED = 1_000
"""Distinct values counted per feature; beyond that a string feature is an id."""
_FIELDS = ("min", "max", "typical", "choices", "required")
_NUMERIC_ONLY = ("min", "max", "typical")


@dataclass
class _Observed:
    """What the dataset's bodies hold at one path."""

    present: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    low: float = math.inf
    high: float = -math.inf
    values: Counter[tuple[str, Choice]] = field(default_factory=Counter)
    overflow: bool = False

    def add(self, value: Any) -> None:
        self.present += 1
        if value is None or isinstance(value, dict | list):
            return
        kind = "bool" if isinstance(value, bool) else type(value).__name__
        if kind in ("int", "float"):
            if not math.isfinite(value):
                return
            self.low, self.high = min(self.low, value), max(self.high, value)
        self.kinds[kind] += 1
        key = (kind, value)
        if key in self.values or len(self.values) < MAX_TRACKED:
            self.values[key] += 1
        else:
            self.overflow = True

    def type(self) -> FeatureType | None:
        numbers = self.kinds["int"] + self.kinds["float"]
        strings, bools = self.kinds["str"], self.kinds["bool"]
        if not numbers and not strings and not bools:
            return None
        if numbers >= strings and numbers >= bools:
            return FeatureType.NUMBER if self.kinds["float"] else FeatureType.INTEGER
        if bools > strings:
            return FeatureType.BOOL
        distinct = sum(1 for kind, _ in self.values if kind == "str")
        repeated = strings >= 2 * distinct
        return (
            FeatureType.CATEGORY
            if not self.overflow and distinct <= MAX_CATEGORIES and repeated
            else FeatureType.ID
        )

    def fields(self, kind: FeatureType, bodies: int) -> Partial:
        """What the observations say of a feature of type ``kind``."""
        found: Partial = {"required": self.present == bodies}
        if kind in (FeatureType.NUMBER, FeatureType.INTEGER) and self.low <= self.high:
            found["typical"] = (float(self.low), float(self.high))
        if kind is FeatureType.CATEGORY:
            # the values of the majority kind only: a category of strings does not list a stray number
            majority = max(("str", "int", "bool"), key=lambda k: self.kinds[k])
            choices = tuple(value for (k, value), _ in self.values.most_common() if k == majority)
            if choices:
                found["choices"] = choices
        return found


def observe(bodies: Iterable[Mapping[str, Any]]) -> tuple[dict[str, _Observed], int]:
    """Every leaf path of the first :data:`MAX_BODIES` bodies (at most :data:`MAX_FEATURES` paths), and how many
    bodies were read."""
    seen: dict[str, _Observed] = {}
    count = 0
    for body in bodies:
        if count >= MAX_BODIES:
            break
        count += 1
        for path, value in leaves(body):
            observed = seen.get(path)
            if observed is None:
                if len(seen) >= MAX_FEATURES or not _valid_path(path):
                    continue
                observed = seen[path] = _Observed()
            observed.add(value)
    return seen, count


def _valid_path(path: str) -> bool:
    """Keys with dots, spaces or other punctuation cannot be named by a dotted path: not features."""
    return len(path) <= 200 and FEATURE_PATH.match(path) is not None


def resolve_schema(
    declared: RequestSchema,
    *,
    bodies: Sequence[Mapping[str, Any]],
    openapi: Mapping[str, Any] | None,
    predict_path: str,
) -> RequestSchema:
    """``declared`` completed from ``openapi`` (the service's OpenAPI document, if any) and ``bodies`` (unless
    ``declared.infer_from_dataset`` is false), field by field as the module says.

    Raises :class:`~mlchaos.experiments.inputs.openapi.OpenApiProblem` when ``openapi`` is given but describes no
    JSON request body for ``POST predict_path``."""
    from_openapi = openapi_features(openapi, predict_path) if openapi is not None else {}
    observed, count = observe(bodies) if declared.infer_from_dataset else ({}, 0)
    order = list(dict.fromkeys([*declared.features, *from_openapi, *observed]))
    features: dict[str, Feature] = {}
    for path in order:
        feature = _merged(declared.features.get(path), from_openapi.get(path, {}), observed.get(path), count)
        if feature is not None:
            features[path] = feature
    return declared.model_copy(update={"features": features})


def _merged(
    declared: Feature | None, openapi: Partial, observed: _Observed | None, bodies: int
) -> Feature | None:
    mine: Partial = {name: getattr(declared, name) for name in declared.model_fields_set} if declared else {}
    kind = mine.get("type") or openapi.get("type") or (observed.type() if observed else None)
    if kind is None:
        return None
    seen = observed.fields(kind, bodies) if observed else {}
    # If sources contradict each other (an OpenAPI maximum below a declared minimum), the lower ones give way.
    for sources in ((mine, openapi, seen), (mine, seen), (mine, openapi), (mine,)):
        merged: Partial = {"type": kind}
        for name in _FIELDS:
            # an explicit null or empty list says nothing (a target file written out in full has them)
            value = next((source[name] for source in sources if source.get(name) not in (None, ())), None)
            if value is None or (
                name in _NUMERIC_ONLY and kind not in (FeatureType.NUMBER, FeatureType.INTEGER)
            ):
                continue
            if name == "choices" and kind is not FeatureType.CATEGORY:
                continue
            merged[name] = value
        try:
            return Feature.model_validate(merged)
        except ValidationError:
            continue
    return None
