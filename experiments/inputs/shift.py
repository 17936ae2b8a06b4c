"""Distribution shift: clean requests with moved features (covariate shift), and out-of-distribution inputs that
still fit the service's request schema — the traffic a drift monitor and an OOD router exist for.

Everything is built from the resolved :class:`~mlchaos.experiments.inputs.schema.RequestSchema`: no feature is
named here. OOD requests stay *valid* (within each feature's declared ``min``/``max``, categories among their
``choices``), so they test routing, not validation:

- ``extreme``: every numeric feature with room for it goes far beyond its typical range — between
  :data:`FAR_SPANS` typical spans (or half the room the declared bounds leave, if less) and :data:`FARTHEST_SPANS`
  spans (or the declared bound) past its edge, log-uniformly, on the side with more room; a feature has room when
  its declared bound (an undeclared one: unbounded, but never below 0 for a feature seen non-negative) lies at
  least one typical span beyond the typical range. The rest of the request is the clean one's.
- ``impossible``: values that are each typical but not together: every numeric feature at the end of its typical
  range opposite the clean request's value, every bool flipped, every category at its rarest choice (the last);
  ids are the clean request's.
- ``garbage``: every feature drawn over its whole valid range (declared ``min``/``max``, else the typical range;
  log-uniformly when a non-negative range spans more than four orders of magnitude), every category uniformly,
  every id one the service does not know.

A numeric feature without a typical range (no dataset values, nothing declared) is left as the clean request has
it: nothing says what is extreme for it.
"""

from __future__ import annotations

import copy
import enum
import math
import random
import string
from typing import TYPE_CHECKING, Any

from mlchaos.experiments.inputs.outgoing import Outgoing, encode
from mlchaos.experiments.inputs.paths import MISSING, get_path, put_path
from mlchaos.experiments.inputs.schema import Feature, FeatureType, RequestSchema

if TYPE_CHECKING:  # the send calls this module to make its requests
    from mlchaos.experiments.inputs.covariate import CovariateSend


class OodKind(enum.StrEnum):
    """Inputs that fit the service's request schema but lie far outside its training data (tag ``ood:<name>``);
    built from the resolved schema as the module's docstring says."""

    EXTREME = "extreme"
    """The numeric features far beyond their typical range, within their declared bounds."""
    IMPOSSIBLE = "impossible"
    """Values each typical but jointly implausible: numeric features at the far end of their typical range,
    bools flipped, categories at their rarest value."""
    GARBAGE = "garbage"
    """Every feature drawn over its whole valid range, with ids the service does not know."""


FAR_SPANS = 100.0
FARTHEST_SPANS = 1e6
LOG_RANGE = 1e4
"""A non-negative range whose high end is this many times its low end (at least 1) is drawn log-uniformly."""
SMALLEST_POSITIVE = 0.01
"""Low end of a log-uniform draw over a number range that starts at 0."""


def covariate(
    body: dict[str, Any], send: CovariateSend, schema: RequestSchema, rng: random.Random
) -> Outgoing:
    """``body`` with each named numeric feature scaled and offset (kept within its declared bounds, integers
    rounded), the ``swap`` pair exchanged, and each named category re-drawn with its new shares. Features the
    body does not carry are left out, not invented."""
    shifted = copy.deepcopy(body)
    for name in send.scale.keys() | send.offset.keys():
        value = get_path(shifted, name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            moved = value * send.scale.get(name, 1.0) + send.offset.get(name, 0.0)
            put_path(shifted, name, _valid(moved, schema.features.get(name)))
    if send.swap is not None:
        a, b = send.swap
        first, second = get_path(shifted, a), get_path(shifted, b)
        if first is not MISSING and second is not MISSING:
            put_path(shifted, a, second)
            put_path(shifted, b, first)
    for name, pairs in send.categories.items():
        if get_path(shifted, name) is not MISSING:
            values, weights = zip(*pairs, strict=True)
            put_path(shifted, name, rng.choices(values, weights)[0])
    return Outgoing(encode(shifted), input="shift:covariate")


def ood(kind: OodKind, body: dict[str, Any], schema: RequestSchema, rng: random.Random) -> Outgoing:
    """An out-of-distribution request of ``kind`` made from the clean ``body``, tagged ``ood:<kind>``."""
    made = copy.deepcopy(body)
    for path, feature in schema.features.items():
        value = _MAKERS[kind](feature, get_path(body, path), rng)
        if value is not MISSING:
            put_path(made, path, value)
    return Outgoing(encode(made), input=f"ood:{kind.value}")


# -- numeric ranges --------------------------------------------------------------------------------------------


def span(feature: Feature) -> float:
    """The width of the typical range (its magnitude, at least 1, for a constant feature)."""
    assert feature.typical is not None
    low, high = feature.typical
    return high - low if high > low else max(abs(high), 1.0)


def room(feature: Feature, upwards: bool) -> float:
    """How far past the typical range the feature may go on one side and stay valid."""
    assert feature.typical is not None
    low, high = feature.typical
    if upwards:
        return math.inf if feature.max is None else feature.max - high
    if feature.min is not None:
        return low - feature.min
    return low if low >= 0 else math.inf  # a feature seen non-negative stays so: a negative may be invalid


def extreme_side(feature: Feature) -> bool | None:
    """``True`` (upwards) or ``False`` (downwards): where ``extreme`` takes the feature; ``None`` if it has no
    room for it (see the module)."""
    if not feature.numeric or feature.typical is None:
        return None
    upwards = room(feature, True) >= room(feature, False)
    return upwards if room(feature, upwards) >= span(feature) else None


def _extreme(feature: Feature, value: Any, rng: random.Random) -> Any:
    upwards = extreme_side(feature)
    if upwards is None or feature.typical is None:
        return MISSING
    width, space = span(feature), room(feature, upwards)
    distance = _log_uniform(rng, min(FAR_SPANS * width, space / 2), min(FARTHEST_SPANS * width, space))
    edge = feature.typical[1] if upwards else feature.typical[0]
    return _valid(edge + distance if upwards else edge - distance, feature)


def _impossible(feature: Feature, value: Any, rng: random.Random) -> Any:
    if feature.numeric and feature.typical is not None:
        low, high = feature.typical
        below_middle = not isinstance(value, int | float) or value < (low + high) / 2
        return _valid(high if below_middle else low, feature)
    if feature.type is FeatureType.BOOL:
        return not value if isinstance(value, bool) else True
    if feature.type is FeatureType.CATEGORY and feature.choices:
        return feature.choices[-1]
    return MISSING


def _garbage(feature: Feature, value: Any, rng: random.Random) -> Any:
    if feature.numeric:
        low = feature.min if feature.min is not None else feature.typical[0] if feature.typical else None
        high = feature.max if feature.max is not None else feature.typical[1] if feature.typical else None
        if low is None or high is None:
            return MISSING
        smallest = 1.0 if feature.type is FeatureType.INTEGER else SMALLEST_POSITIVE
        if low >= 0 and high >= LOG_RANGE * max(low, 1.0):
            return _valid(_log_uniform(rng, max(low, smallest), high), feature)
        return _valid(rng.uniform(low, high), feature)
    if feature.type is FeatureType.BOOL:
        return rng.random() < 0.5
    if feature.type is FeatureType.CATEGORY:
        return rng.choice(feature.choices) if feature.choices else MISSING
    return unknown_id(rng, value)


_MAKERS = {OodKind.EXTREME: _extreme, OodKind.IMPOSSIBLE: _impossible, OodKind.GARBAGE: _garbage}


def changes(kind: OodKind, feature: Feature) -> bool:
    """Whether an OOD request of ``kind`` gives ``feature`` a value of its own (else it keeps the clean one)."""
    if kind is OodKind.EXTREME:
        return extreme_side(feature) is not None
    if feature.numeric:
        has_bounds = feature.min is not None and feature.max is not None
        return feature.typical is not None or (kind is OodKind.GARBAGE and has_bounds)
    if feature.type is FeatureType.CATEGORY:
        return bool(feature.choices)
    return feature.type is FeatureType.BOOL or kind is OodKind.GARBAGE


def unknown_id(rng: random.Random, like: Any = None) -> str:
    """An identifier the service has most likely never issued, in the shape of ``like`` (a clean request's id) so
    that it passes the service's id pattern: each digit redrawn (``C-00042`` → ``C-71930``), or, without digits,
    each lower-case letter. Without a string to imitate: ``zz`` and eight hex digits."""
    if isinstance(like, str) and like:
        pool = string.digits if any(c.isdigit() for c in like) else string.ascii_lowercase
        if any(c in pool for c in like):
            for _ in range(8):  # a redraw equal to the clean id is no unknown id; a few tries always differ
                made = "".join(rng.choice(pool) if c in pool else c for c in like)
                if made != like:
                    return made
    return f"zz{rng.randrange(16**8):08x}"


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    if high <= low or low <= 0:
        return high
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _valid(value: float, feature: Feature | None) -> int | float:
    """``value`` within the feature's declared bounds, a whole number for an integer feature, 8 significant
    digits for a number (compact bodies; nothing a model tells apart)."""
    if feature is not None:
        if feature.max is not None:
            value = min(value, feature.max)
        if feature.min is not None:
            value = max(value, feature.min)
        if feature.type is FeatureType.INTEGER:
            whole = round(value)
            if feature.max is not None and whole > feature.max:
                whole = math.floor(feature.max)
            if feature.min is not None and whole < feature.min:
                whole = math.ceil(feature.min)
            return int(whole)
    return float(f"{value:.8g}")
