"""What the load child writes on stdout, and how it reads the fields the target reports.

Wire format: UTF-8 JSON, one object per line, in this order::

    {"started": 1712345678.123456}                         once, just before the first user is spawned
    {"t": 1712345678.4, "users": 8, "records": [ROW, ...]}  every flush_interval_s (records may be empty)
    {"done": true, "sent": 12345}                          last line of a clean exit (duration, SIGTERM, ...)

``ROW`` is one request as a JSON array in :data:`COLUMNS` order (``REQUEST_SCHEMA``'s column order), e.g.
``[1712345678.401203, 3.2140000000000004, 200, "primary", 0.9, "legit", null, "fraud", null, null, null,
0.93, false, null]``. Positional rows are
about half the size of objects, and a batch per flush means one ``write`` + ``flush`` per interval instead of
one per request. ``started`` is also the start of ``duration_s``: no request starts after ``started +
duration_s``. ``users`` is Locust's user count at flush time, so a load shape shows up in the recording.
``sent`` is the total number of rows the child wrote; a reader that counted a different number lost data. A
missing ``done`` line means the child died.

This module imports neither Locust nor pyarrow: the child uses it before (and without) the orchestrator's
stack, and the orchestrator decodes with it without ever touching gevent.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from mlchaos.experiments.errors import LoadFailure
from mlchaos.experiments.redaction import redact_text

COLUMNS = (
    "start",
    "latency_ms",
    "status",
    "tier",
    "confidence",
    "prediction",
    "error",
    "label",
    "input",
    "pair",
    "expected",
    "score",
    "flagged",
    "shed",
)
"""Row order on the wire; equal to ``records.REQUEST_COLUMNS`` (a test keeps them equal)."""

HEADER_PREFIX = "header:"
ERROR_MAX_CHARS = 200
"""Errors are for humans and grouping, not forensics: long exception texts are cut so rows stay small."""

_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False, ensure_ascii=False)
_REPORTED_NUMBERS = (COLUMNS.index("confidence"), COLUMNS.index("score"))
"""The columns that hold numbers as the target reported them, so possibly NaN or infinite; the others are times
the load measured itself."""

Row = list[Any]
FieldReader = Callable[[Any, Any], Any]
"""Reads one reported field from ``(parsed JSON body or None, response headers or None)``."""


class ProtocolError(ValueError, LoadFailure):
    """A stdout line from the child is not part of the wire format (something else wrote to its stdout)."""


@dataclass(frozen=True, slots=True)
class Started:
    t: float


@dataclass(frozen=True, slots=True)
class Batch:
    t: float
    users: int
    rows: list[Row]


@dataclass(frozen=True, slots=True)
class Done:
    sent: int


Message = Started | Batch | Done


def encode_started(t: float) -> bytes:
    return _ENCODER.encode({"started": t}).encode() + b"\n"


def encode_batch(t: float, users: int, rows: list[Row]) -> bytes:
    """One batch line. orjson writes it about four times faster than the json module (it runs for every row of
    the load, and again in a distributed load's master), with the same JSON; the json module still writes the
    batches orjson would get wrong — a reported NaN or infinity (orjson writes ``null``: the value would be
    lost) — or refuses (anything else it cannot write), exactly as before."""
    message = {"t": round(t, 3), "users": users, "records": rows}
    if _reported_numbers_finite(rows):
        with contextlib.suppress(orjson.JSONEncodeError):
            return orjson.dumps(message, option=orjson.OPT_APPEND_NEWLINE)
    try:
        return _ENCODER.encode(message).encode() + b"\n"
    except UnicodeEncodeError:
        # A lone surrogate, from a "\ud800" escape in an answer: no UTF-8 text (so no recording) can hold it.
        message["records"] = [[_escaped_surrogates(value) for value in row] for row in rows]
        return _ENCODER.encode(message).encode() + b"\n"


def _escaped_surrogates(value: Any) -> Any:
    """A text with lone surrogates kept as their escape text (``\\ud800``), so the recording shows what came."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(value, str) else value


def _reported_numbers_finite(rows: list[Row]) -> bool:
    """Whether no row reports a NaN or an infinite number (one sum per batch: NaN and ±inf propagate)."""
    try:
        total = sum(v for row in rows for i in _REPORTED_NUMBERS if (v := row[i]) is not None)
    except (IndexError, TypeError):  # not rows of the wire's shape: the json module writes them as they are
        return False
    return math.isfinite(total)


def encode_done(sent: int) -> bytes:
    return _ENCODER.encode({"done": True, "sent": sent}).encode() + b"\n"


def decode(line: bytes) -> Message:
    """One wire line as a typed message; :class:`ProtocolError` for anything else."""
    try:
        obj = _loads(line)
        if not isinstance(obj, dict):
            raise ProtocolError(f"not a load-child line: {line[:200]!r}")
        if "records" in obj:
            return Batch(float(obj["t"]), int(obj["users"]), obj["records"])
        if "started" in obj:
            return Started(float(obj["started"]))
        if obj.get("done") is True:
            return Done(int(obj["sent"]))
    except (ValueError, TypeError, KeyError) as exc:
        raise ProtocolError(f"not a load-child line ({exc}): {line[:200]!r}") from exc
    raise ProtocolError(f"not a load-child line: {line[:200]!r}")


def _loads(line: bytes) -> Any:
    """orjson, several times faster on a batch of rows; the json module for the lines orjson refuses (one whose
    rows carry a NaN or an infinity, as the json module writes them) and for what is not JSON at all."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


def field_reader(spec: str) -> FieldReader:
    """A reader for a target's field spec: ``"header:X-Tier"`` reads a header, ``"a.b"`` walks the JSON body,
    ``"outputs.0.data.1"`` through list indices too.

    A header name is looked up case-insensitively (both Locust clients' header mappings are). A spec with dots
    is looked up as one key first, so a key that contains a dot still works. A step that is a digit string
    indexes a list (``0`` is the first item); a negative or out-of-range index, a missing key, or a step into
    a scalar reads ``None``.
    """
    if spec.startswith(HEADER_PREFIX):
        name = spec[len(HEADER_PREFIX) :]

        def read_header(_doc: Any, headers: Any) -> Any:
            value = headers.get(name) if headers is not None else None
            return value[0] if isinstance(value, list) else value

        return read_header

    if "." not in spec:  # the common case, kept to one dict lookup: it runs for every field of every request

        def read_key(doc: Any, _headers: Any) -> Any:
            return doc.get(spec) if isinstance(doc, dict) else None

        return read_key

    # Resolved once here, not per request: each step is a key, and also an index when it is a digit string.
    steps = [(step, int(step) if step.isascii() and step.isdigit() else None) for step in spec.split(".")]

    def read_path(doc: Any, _headers: Any) -> Any:
        if isinstance(doc, dict) and spec in doc:
            return doc[spec]
        value: Any = doc
        for key, index in steps:
            if isinstance(value, dict):
                value = value.get(key)
            elif isinstance(value, list) and index is not None and index < len(value):
                value = value[index]
            else:
                return None
        return value

    return read_path


def needs_body(*specs: str) -> bool:
    """Whether any field is read from the body, i.e. whether responses must be parsed as JSON at all."""
    return any(not s.startswith(HEADER_PREFIX) for s in specs)


def as_text(value: Any) -> str | None:
    """A reported tier/prediction as text: strings kept, other JSON values as JSON text (``1``, ``true``)."""
    if value is None or isinstance(value, str):
        return value
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError):
        return str(value)


def as_float(value: Any) -> float | None:
    """A reported confidence as a float, or ``None`` when it is missing or not a number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def as_flag(value: Any) -> bool | None:
    """A reported flag (``review``, ``shed``) as a bool: JSON booleans, and header values ``1``/``true``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    if isinstance(value, int | float):
        return bool(value)
    return None


def describe(exc: BaseException) -> str:
    """A short error text: the exception type (what to group by) and its message.

    Wrappers that carry the real cause as ``original`` (geventhttpclient's ``RetriesExceeded`` around a
    timeout) are unwrapped, so a timeout reads ``TimeoutError: timed out`` whatever the retry policy.
    """
    for _ in range(3):  # bounded: a cause chain is never deeper in practice
        original = getattr(exc, "original", None)
        if not isinstance(original, BaseException):
            break
        exc = original
    text = redact_text(str(exc))  # HTTP libraries quote the URL: a token in its query must not be recorded
    described = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return described[:ERROR_MAX_CHARS]
