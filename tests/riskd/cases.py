"""Request bodies riskd must refuse, by the status it must refuse them with (shared with the harness tests).

Each 422 case names the one field the answer's ``fields`` must blame (None: the body as a whole).
"""

from __future__ import annotations

import json
from typing import Any

from riskd.testing import CLEAN_BODY


def encoded(**changes: Any) -> bytes:
    return json.dumps({**CLEAN_BODY, **changes}).encode()


def without(field: str) -> bytes:
    return json.dumps({k: v for k, v in CLEAN_BODY.items() if k != field}).encode()


INVALID: dict[str, tuple[bytes, str | None]] = {
    "missing field": (without("value_eur"), "value_eur"),
    "null": (encoded(channel=None), "channel"),
    "number as string": (encoded(value_eur="12.5"), "value_eur"),
    "boolean as integer": (encoded(basket_items=True), "basket_items"),
    "fractional basket": (encoded(basket_items=3.5), "basket_items"),
    "negative value": (encoded(value_eur=-0.01), "value_eur"),
    "value over maximum": (encoded(value_eur=50000.01), "value_eur"),
    "empty basket": (encoded(basket_items=0), "basket_items"),
    "basket over maximum": (encoded(basket_items=101), "basket_items"),
    "night as string": (encoded(night="false"), "night"),
    "night as 0": (encoded(night=0), "night"),
    "unknown channel": (encoded(channel="fax"), "channel"),
    "lower-case country": (encoded(country="de"), "country"),
    "short customer_ref": (encoded(customer_ref="C-42"), "customer_ref"),
    "customer_ref as number": (encoded(customer_ref=42), "customer_ref"),
    "trailing newline": (encoded(customer_ref="C-00042\n"), "customer_ref"),
    "NUL character": (encoded(customer_ref="C-00\u000042"), "customer_ref"),
    "raw control character": (encoded(channel="we\x01b"), "channel"),
    "NaN": (encoded(value_eur=float("nan")), "value_eur"),
    "Infinity": (encoded(value_eur=float("inf")), "value_eur"),
    "-Infinity": (encoded(value_eur=float("-inf")), "value_eur"),
    "overflowing number": (encoded().replace(b"12.5", b"1e400"), "value_eur"),
    "array": (b"[1, 2]", None),
    "string": (b'"score me"', None),
}
MALFORMED: dict[str, bytes] = {
    "truncated": encoded()[:-7],
    "trailing comma": b'{"customer_ref": "C-00042",}',
    "single quotes": b"{'customer_ref': 'C-00042'}",
    "empty": b"",
    "not UTF-8": b'{"customer_ref": "\xff\xfe"}',
    "nested 30000 deep": b'{"x": ' + b"[" * 30000 + b"]" * 30000 + b"}",
}
