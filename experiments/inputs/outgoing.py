"""One request as the load child will send it: the raw body, its content type, and its tags for the record."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Outgoing:
    body: bytes
    label: str | None = None
    """The true label, for canaries (clean requests and label-prior shifted ones)."""
    input: str | None = None
    """``None`` for clean traffic, else ``"<family>:<name>"`` (see ``RequestRecord.input``)."""
    pair: str | None = None
    expected: str | None = None
    content_type: str = JSON


def encode(body: Any) -> bytes:
    """Compact JSON, as clean requests are sent; NaN/±Inf refused (a clean body never carries them)."""
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
