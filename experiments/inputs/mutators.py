"""The corrupted-input catalogue: each :class:`Mutator` turns a clean body
into the bytes and content type a careless or hostile client would send, and says what the service's input
contract expects of it (the record's ``expected``: ``reject``, ``accept`` or ``either``).

Field-level mutators act on ``CorruptSend.field``, by default the first numeric feature of the resolved request
schema; ``control_chars`` on the first string feature (an id, or a category of strings) — the corrupted field
itself when there is none; the others on the whole request. No feature is named here.

What the contract (:class:`~mlchaos.experiments.inputs.contract.InputContract`) expects:

- ``extra_field``: ``reject`` / ``accept`` / ``either`` as ``extra_fields`` is ``reject`` / ``ignore`` / ``either``;
- ``wrong_content_type``: as ``content_type`` is ``strict`` / ``lenient`` / ``either``;
- ``oversized``: with a ``max_body_bytes``, the body is 1 KiB past it (unless ``oversize_bytes`` says otherwise)
  and must be refused — ``accept`` if it still fits; without a declared limit, ``either``;
- ``missing_field`` of an optional feature: ``accept`` (a request without it is valid); ``renamed_field`` of one
  is an extra field where an optional one is missing: as ``extra_field``;
- every other mutation: ``reject``.

Mutations are deterministic: the randomness (which request, which mutator) is the caller's.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlchaos.experiments.inputs.contract import Expectation, InputContract
from mlchaos.experiments.inputs.outgoing import JSON, Outgoing, encode
from mlchaos.experiments.inputs.paths import MISSING, delete_path, get_path, rename_path, segments, set_path
from mlchaos.experiments.inputs.schema import Feature, FeatureType, RequestSchema

if TYPE_CHECKING:  # the send calls this module to make its requests
    from mlchaos.experiments.inputs.corrupt import CorruptSend


class Mutator(enum.StrEnum):
    """How a corrupted request differs from the clean one it was made from (tag ``corrupt:<name>``)."""

    NULL_FIELD = "null_field"
    NAN = "nan"
    POS_INF = "pos_inf"
    NEG_INF = "neg_inf"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    MISSING_FIELD = "missing_field"
    EXTRA_FIELD = "extra_field"
    RENAMED_FIELD = "renamed_field"
    EMPTY_BODY = "empty_body"
    MALFORMED_JSON = "malformed_json"
    TRUNCATED_JSON = "truncated_json"
    OVERSIZED = "oversized"
    DEEPLY_NESTED = "deeply_nested"
    CONTROL_CHARS = "control_chars"
    WRONG_CONTENT_TYPE = "wrong_content_type"


EXTRA_FIELD = "unexpected_feature"
CONTROL_TEXT = "u\x00\x07\x1b\x7f\u2028"
"""NUL, BEL, ESC, DEL and a Unicode line separator: what a broken upstream encoder leaks into strings."""
OUT_OF_RANGE = 1e12
"""For a numeric feature of which nothing is known: beyond any sane amount, probability or count."""
BEYOND_MAX = 1000.0
"""``out_of_range`` sends the declared max plus this many times its magnitude (at least 1)."""
BEYOND_TYPICAL = 1e6
"""… or, without a declared max, the typical high end plus this many typical spans."""
PAST_LIMIT_BYTES = 1024
"""How far past the contract's ``max_body_bytes`` an ``oversized`` body goes."""
OVERSIZE_WITHOUT_LIMIT = 1_100_000
"""Size of an ``oversized`` body when the contract declares no limit: past a common 1 MiB default."""
FIELD_MUTATORS = frozenset(
    {
        Mutator.NULL_FIELD,
        Mutator.NAN,
        Mutator.POS_INF,
        Mutator.NEG_INF,
        Mutator.WRONG_TYPE,
        Mutator.OUT_OF_RANGE,
        Mutator.MISSING_FIELD,
        Mutator.RENAMED_FIELD,
        Mutator.DEEPLY_NESTED,
    }
)
"""Mutators that corrupt one feature (``CorruptSend.field``)."""
_NEST = "\x00mlchaos-nest\x00"
"""Placeholder value replaced by raw nested brackets, which ``json.dumps`` could not write (too deep)."""


def corrupted_field(send: CorruptSend, schema: RequestSchema) -> str | None:
    """The feature field-level mutators corrupt: the scenario's ``field``, else the schema's first numeric
    feature, else its first feature; ``None`` when the schema has none."""
    if send.field is not None:
        return send.field
    return next(iter(schema.numeric()), next(iter(schema.features), None))


def text_field(send: CorruptSend, schema: RequestSchema) -> str | None:
    """Where ``control_chars`` goes: the first string feature, else the corrupted field."""
    textual = (path for path, feature in schema.features.items() if feature.textual)
    return next(textual, corrupted_field(send, schema))


def oversize_bytes(send: CorruptSend) -> int:
    if send.oversize_bytes is not None:
        return send.oversize_bytes
    limit = send.contract.max_body_bytes
    return limit + PAST_LIMIT_BYTES if limit is not None else OVERSIZE_WITHOUT_LIMIT


@dataclass(frozen=True)
class _Target:
    """What one mutation acts on."""

    field: str
    feature: Feature | None
    text_field: str
    oversize_bytes: int
    nest_depth: int


def mutate(mutator: Mutator, body: dict[str, Any], send: CorruptSend, schema: RequestSchema) -> Outgoing:
    """``body`` corrupted by ``mutator``, tagged ``corrupt:<mutator>`` and with what the contract expects."""
    field = corrupted_field(send, schema)
    if field is None:
        raise ValueError("no feature to corrupt: the request schema is empty and the scenario names no field")
    feature = schema.features.get(field)
    target = _Target(field, feature, text_field(send, schema) or field, oversize_bytes(send), send.nest_depth)
    raw, content_type = _MUTATIONS[mutator](body, target)
    return Outgoing(
        raw,
        input=f"corrupt:{mutator.value}",
        expected=expectation(mutator, send.contract, feature, len(raw)).value,
        content_type=content_type or JSON,
    )


def expectation(mutator: Mutator, contract: InputContract, feature: Feature | None, size: int) -> Expectation:
    """What ``contract`` expects of a request corrupted by ``mutator`` (``size`` bytes long) in ``feature``."""
    extra = {"reject": Expectation.REJECT, "ignore": Expectation.ACCEPT, "either": Expectation.EITHER}
    optional = feature is not None and not feature.required
    if mutator is Mutator.EXTRA_FIELD or (mutator is Mutator.RENAMED_FIELD and optional):
        return extra[contract.extra_fields]
    if mutator is Mutator.WRONG_CONTENT_TYPE:
        return {"strict": Expectation.REJECT, "lenient": Expectation.ACCEPT, "either": Expectation.EITHER}[
            contract.content_type
        ]
    if mutator is Mutator.OVERSIZED:
        if contract.max_body_bytes is None:
            return Expectation.EITHER
        return Expectation.REJECT if size > contract.max_body_bytes else Expectation.ACCEPT
    if mutator is Mutator.MISSING_FIELD and optional:
        return Expectation.ACCEPT
    return Expectation.REJECT


def out_of_range(feature: Feature | None) -> int | float:
    """Beyond the declared max, else far beyond the typical range, else :data:`OUT_OF_RANGE`."""
    if feature is None or not feature.numeric:
        value = OUT_OF_RANGE
    elif feature.max is not None:
        value = feature.max + BEYOND_MAX * max(abs(feature.max), 1.0)
    elif feature.typical is not None:
        low, high = feature.typical
        value = high + BEYOND_TYPICAL * max(high - low, abs(high), 1.0)
    else:
        value = OUT_OF_RANGE
    return math.ceil(value) if feature is not None and feature.type is FeatureType.INTEGER else value


def _wrong_type(value: Any, feature: Feature | None) -> Any:
    """A value of another JSON type that a lenient parser might coerce back: ``12.5`` → ``"12.5"``."""
    if value is MISSING or value is None:
        value = {FeatureType.ID: "x", FeatureType.CATEGORY: "x", FeatureType.BOOL: True}.get(
            feature.type if feature else FeatureType.NUMBER, 1.5
        )
    if isinstance(value, str):
        return 12345
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _with_non_finite(body: dict[str, Any], target: _Target, value: float) -> bytes:
    # allow_nan=True writes the non-standard NaN / Infinity literals many JSON libraries accept
    return json.dumps(set_path(body, target.field, value), separators=(",", ":")).encode()


def _deeply_nested(body: dict[str, Any], target: _Target) -> bytes:
    raw = encode(set_path(body, target.field, _NEST))
    return raw.replace(encode(_NEST), b"[" * target.nest_depth + b"]" * target.nest_depth, 1)


def _renamed(body: dict[str, Any], target: _Target) -> dict[str, Any]:
    """``price`` → ``price_v2``: the schema drift of an upstream team renaming a column."""
    return rename_path(body, target.field, f"{segments(target.field)[-1]}_v2")


_Mutation = Callable[[dict[str, Any], _Target], tuple[bytes, str | None]]


def _json(make: Callable[[dict[str, Any], _Target], Any]) -> _Mutation:
    return lambda body, target: (encode(make(body, target)), None)


_MUTATIONS: dict[Mutator, _Mutation] = {
    Mutator.NULL_FIELD: _json(lambda b, t: set_path(b, t.field, None)),
    Mutator.NAN: lambda b, t: (_with_non_finite(b, t, float("nan")), None),
    Mutator.POS_INF: lambda b, t: (_with_non_finite(b, t, float("inf")), None),
    Mutator.NEG_INF: lambda b, t: (_with_non_finite(b, t, float("-inf")), None),
    Mutator.WRONG_TYPE: _json(
        lambda b, t: set_path(b, t.field, _wrong_type(get_path(b, t.field), t.feature))
    ),
    Mutator.OUT_OF_RANGE: _json(lambda b, t: set_path(b, t.field, out_of_range(t.feature))),
    Mutator.MISSING_FIELD: _json(lambda b, t: delete_path(b, t.field)),
    Mutator.EXTRA_FIELD: _json(lambda b, t: {**b, EXTRA_FIELD: 1.0}),
    Mutator.RENAMED_FIELD: _json(_renamed),
    Mutator.EMPTY_BODY: lambda b, t: (b"", None),
    # a doubled comma before the closing brace: the kind of slip a hand-rolled encoder makes
    Mutator.MALFORMED_JSON: lambda b, t: (encode(b)[:-1] + b",,}", None),
    Mutator.TRUNCATED_JSON: lambda b, t: (encode(b)[: max(1, len(encode(b)) // 2)], None),
    # valid JSON followed by whitespace: only the size is wrong, so only a size limit can catch it
    Mutator.OVERSIZED: lambda b, t: (encode(b).ljust(t.oversize_bytes, b" "), None),
    Mutator.DEEPLY_NESTED: lambda b, t: (_deeply_nested(b, t), None),
    Mutator.CONTROL_CHARS: _json(lambda b, t: set_path(b, t.text_field, CONTROL_TEXT)),
    Mutator.WRONG_CONTENT_TYPE: lambda b, t: (encode(b), "text/plain"),
}
