"""Which features the boundary attack moves, and over which ranges, from the service's resolved request schema.

By default every numeric (number, integer) feature of the schema, over the range of normal traffic: its
``typical`` range widened by :data:`WIDEN` of its span on each side, kept within the feature's declared
``min``/``max``. The range is the attack's yardstick — distances are measured in fractions of it — so it must be
the scale on which inputs really vary: a validity bound such as "at most 10⁹" says what the service accepts, not
how far a small change goes. A feature without a typical range (or a constant one) uses its ``min``/``max`` when
both are known; one with neither is left alone. A scenario may name the features instead; they must then be
numeric features of the schema.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from mlchaos.experiments.attacks.boundary import FeatureRange
from mlchaos.experiments.inputs.schema import Feature, FeatureType, RequestSchema

WIDEN = 0.1
"""How far past the typical range (a share of its span, each side) the attack may move a feature."""


def schema_ranges(schema: RequestSchema) -> tuple[FeatureRange, ...]:
    """The numeric features of ``schema`` with the ranges the attack moves them in (see the module docstring)."""
    found = (_range(path, feature) for path, feature in schema.features.items() if feature.numeric)
    return tuple(r for r in found if r is not None)


def _range(path: str, feature: Feature) -> FeatureRange | None:
    integer = feature.type is FeatureType.INTEGER
    if feature.typical is not None and feature.typical[1] > feature.typical[0]:
        typical_low, typical_high = feature.typical
        margin = WIDEN * (typical_high - typical_low)
        low = typical_low - margin if feature.min is None else max(feature.min, typical_low - margin)
        high = typical_high + margin if feature.max is None else min(feature.max, typical_high + margin)
        made = _bounded(path, low, high, integer)
        if made is not None:
            return made
    if feature.min is None or feature.max is None:
        return None
    return _bounded(path, feature.min, feature.max, integer)


def _bounded(path: str, low: float, high: float, integer: bool) -> FeatureRange | None:
    if integer:
        low, high = math.ceil(low), math.floor(high)
    return FeatureRange(path, low, high, integer) if high > low else None


def unknown_features(names: Iterable[str], schema: RequestSchema) -> list[str]:
    """Why each of ``names`` cannot be attacked on a service with ``schema``: not a feature, or not numeric.
    Empty when the schema has no features at all (nothing is known to check against)."""
    if not schema.features:
        return []
    numeric = ", ".join(schema.numeric()) or "none"
    problems = []
    for name in names:
        feature = schema.features.get(name)
        if feature is None:
            problems.append(f"no feature '{name}' in the request schema; its numeric features: {numeric}")
        elif not feature.numeric:
            problems.append(f"feature '{name}' is {feature.type}, not a number; the numeric ones: {numeric}")
    return problems
