"""Parsing and checking ``POST /api/v2/score`` bodies, by hand (no pydantic: riskd is another team's code).

400  not UTF-8, malformed, truncated, or too deeply nested JSON
422  valid JSON that is not a good request: not an object, a field missing, null, of the wrong type, out of
     range, not one of the allowed values, NaN/Infinity, control characters
ignored, on purpose: extra unknown fields, and the Content-Type header (the body is parsed as JSON whatever it
     says). 413 (body over 64 KiB) is checked by the HTTP layer before any parsing.

NaN/Infinity literals always get through the JSON parser (Python's is lenient), so that they can be reported
as what they are (422, not 400). Under ``nan_500`` the range check is the classic broken one: non-finite
numbers skip it and travel on to the models.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Final

from riskd.data import CHANNELS, COUNTRIES

MAX_BODY_BYTES: Final = 64 * 1024
VALUE_RANGE: Final = (0.0, 50_000.0)
BASKET_RANGE: Final = (1, 100)
CUSTOMER_REF: Final = re.compile(r"C-[0-9]{5}")
FIELDS: Final = ("customer_ref", "value_eur", "channel", "country", "night", "basket_items")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass
class Rejection(Exception):
    status: int
    problem: str
    fields: list[dict[str, str]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        return {"problem": self.problem, "fields": self.fields}


def parse(raw: bytes, *, lenient_numbers: bool = False) -> dict[str, Any]:
    """The validated request (only the known fields), or :class:`Rejection`."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejection(400, f"body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        # strict=False lets raw control characters inside strings through the parser, so that they are
        # reported per field (422) like escaped ones.
        document = json.loads(text, strict=False)
    except json.JSONDecodeError as exc:
        raise Rejection(400, f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (RecursionError, ValueError) as exc:  # absurd nesting; integers over Python's digit limit
        raise Rejection(400, f"malformed JSON: {type(exc).__name__}") from None
    if not isinstance(document, dict):
        raise Rejection(422, f"body must be a JSON object, got {type(document).__name__}")
    issues: list[dict[str, str]] = []
    result: dict[str, Any] = {}
    for name in FIELDS:
        if document.get(name) is None:
            issues.append({"field": name, "issue": "missing" if name not in document else "null"})
            continue
        issue = _check(name, document[name], lenient_numbers)
        if issue is None:
            result[name] = document[name]
        else:
            issues.append({"field": name, "issue": issue})
    if issues:
        raise Rejection(422, "invalid request: " + ", ".join(i["field"] for i in issues), issues)
    return result


def _check(name: str, value: object, lenient_numbers: bool) -> str | None:
    """What is wrong with one present, non-null field, or None."""
    if name == "value_eur":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number, got {_kind(value)}"
        if lenient_numbers and not math.isfinite(value):
            return None  # the planted defect nan_500
        if not math.isfinite(value):
            return "must be a finite number"
        low, high = VALUE_RANGE
        return None if low <= value <= high else f"must be between {low:g} and {high:g}"
    if name == "basket_items":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer, got {_kind(value)}"
        low_items, high_items = BASKET_RANGE
        return None if low_items <= value <= high_items else f"must be between {low_items} and {high_items}"
    if name == "night":
        return None if isinstance(value, bool) else f"must be true or false, got {_kind(value)}"
    if not isinstance(value, str):
        return f"must be a string, got {_kind(value)}"
    if _CONTROL.search(value):
        return "contains control characters"
    if name == "customer_ref":
        return None if CUSTOMER_REF.fullmatch(value) else "must look like C-00042 (C- and five digits)"
    allowed = CHANNELS if name == "channel" else COUNTRIES
    return None if value in allowed else f"must be one of {', '.join(allowed)}"


def _kind(value: object) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
    }.get(type(value), type(value).__name__)
