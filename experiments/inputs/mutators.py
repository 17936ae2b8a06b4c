"""The corrupted-input catalogue: each :class:`~mlchaos.experiments.inputs.windows.Mutator` turns a clean body
into the bytes and content type a careless or hostile client would send.

Field-level mutators act on ``CorruptSend.field`` (``amount`` by default); the others on the whole request.
Mutations are deterministic: the randomness (which request, which mutator) is the caller's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mlchaos.experiments.inputs.outgoing import JSON, Outgoing, encode
from mlchaos.experiments.inputs.windows import CorruptSend, Mutator

EXTRA_FIELD = "unexpected_feature"
CONTROL_TEXT = "u\x00\x07\x1b\x7f\u2028"
"""NUL, BEL, ESC, DEL and a Unicode line separator: what a broken upstream encoder leaks into strings."""
OUT_OF_RANGE = 1e12
"""Beyond any sane amount, probability or hour, and beyond the reference stack's limit (10⁹) on amounts."""


def _with_field(body: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    return {**body, name: value}


def _raw_field(body: dict[str, Any], name: str, raw: str) -> bytes:
    """``body`` with ``name`` set to ``raw`` JSON text, which ``json.dumps`` could not produce (too deep)."""
    rest = {k: v for k, v in body.items() if k != name}
    prefix = encode(rest)[:-1] + (b"," if rest else b"")
    return prefix + json.dumps(name).encode() + b":" + raw.encode() + b"}"


def _wrong_type(value: Any) -> Any:
    """A value of another JSON type that a lenient parser might coerce back: ``12.5`` → ``"12.5"``."""
    if isinstance(value, str):
        return 12345
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _nan_body(body: dict[str, Any], name: str, value: float) -> bytes:
    # allow_nan=True writes the non-standard NaN / Infinity literals many JSON libraries accept
    return json.dumps(_with_field(body, name, value), separators=(",", ":")).encode()


def _renamed(body: dict[str, Any], name: str) -> dict[str, Any]:
    """``amount`` → ``amount_v2``: the schema drift of an upstream team renaming a column."""
    return {(f"{k}_v2" if k == name else k): v for k, v in body.items()}


def mutate(mutator: Mutator, body: dict[str, Any], send: CorruptSend) -> Outgoing:
    """``body`` corrupted by ``mutator``, tagged ``corrupt:<mutator>``."""
    raw, content_type = _MUTATIONS[mutator](body, send)
    return Outgoing(raw, input=f"corrupt:{mutator.value}", content_type=content_type or JSON)


_Mutation = Callable[[dict[str, Any], CorruptSend], tuple[bytes, str | None]]


def _json(make: Callable[[dict[str, Any], CorruptSend], Any]) -> _Mutation:
    return lambda body, send: (encode(make(body, send)), None)


_MUTATIONS: dict[Mutator, _Mutation] = {
    Mutator.NULL_FIELD: _json(lambda b, s: _with_field(b, s.field, None)),
    Mutator.NAN: lambda b, s: (_nan_body(b, s.field, float("nan")), None),
    Mutator.POS_INF: lambda b, s: (_nan_body(b, s.field, float("inf")), None),
    Mutator.NEG_INF: lambda b, s: (_nan_body(b, s.field, float("-inf")), None),
    Mutator.WRONG_TYPE: _json(lambda b, s: _with_field(b, s.field, _wrong_type(b.get(s.field, 1.0)))),
    Mutator.OUT_OF_RANGE: _json(lambda b, s: _with_field(b, s.field, OUT_OF_RANGE)),
    Mutator.MISSING_FIELD: _json(lambda b, s: {k: v for k, v in b.items() if k != s.field}),
    Mutator.EXTRA_FIELD: _json(lambda b, s: _with_field(b, EXTRA_FIELD, 1.0)),
    Mutator.RENAMED_FIELD: _json(lambda b, s: _renamed(b, s.field)),
    Mutator.EMPTY_BODY: lambda b, s: (b"", None),
    # a doubled comma before the closing brace: the kind of slip a hand-rolled encoder makes
    Mutator.MALFORMED_JSON: lambda b, s: (encode(b)[:-1] + b",,}", None),
    Mutator.TRUNCATED_JSON: lambda b, s: (encode(b)[: max(1, len(encode(b)) // 2)], None),
    # valid JSON followed by whitespace: only the size is wrong, so only a size limit can catch it
    Mutator.OVERSIZED: lambda b, s: (encode(b) + b" " * s.oversize_bytes, None),
    Mutator.DEEPLY_NESTED: lambda b, s: (
        _raw_field(b, s.field, "[" * s.nest_depth + "]" * s.nest_depth),
        None,
    ),
    Mutator.CONTROL_CHARS: _json(lambda b, s: _with_field(b, "entity_id", CONTROL_TEXT)),
    Mutator.WRONG_CONTENT_TYPE: lambda b, s: (encode(b), "text/plain"),
}
