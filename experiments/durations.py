"""Durations as scenario authors write them: ``5``, ``2.5``, ``"500ms"``, ``"10s"``, ``"2m"`` — stored as seconds."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, Field, WithJsonSchema

_DURATION = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m)?\s*$")
DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*(ms|s|m)?\s*$"
""":data:`_DURATION` in JSON Schema's regex dialect: the string form a file's JSON Schema accepts."""
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}


def parse_duration(value: object) -> object:
    """Seconds from a number or a string with a unit; anything else is passed on for pydantic to reject."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 5, '500ms', '10s' or '2m', not a boolean")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            if value.strip().startswith("-"):
                raise ValueError(f"a duration cannot be negative (got {value!r})")
            raise ValueError(f"expected a duration such as 5, '500ms', '10s' or '2m', got {value!r}")
        return float(match["number"]) * _UNIT_SECONDS[match["unit"]]
    return value


def _written_as(bound: dict[str, float]) -> WithJsonSchema:
    """The JSON Schema of a duration as files write it (``mlchaos schema``): a number of seconds within ``bound``,
    or a string with a unit. Without it the schema would describe the parsed float, and refuse ``"10s"``."""
    number = {"type": "number", **bound}
    string = {"type": "string", "pattern": DURATION_PATTERN}
    return WithJsonSchema({"anyOf": [number, string]}, mode="validation")


# Finite: a run of '.inf' seconds, or of '9999…9m' (which is inf as a float), would never end.
Seconds = Annotated[
    float, BeforeValidator(parse_duration), Field(ge=0, allow_inf_nan=False), _written_as({"minimum": 0})
]
"""A duration of zero or more seconds."""

PositiveSeconds = Annotated[
    float,
    BeforeValidator(parse_duration),
    Field(gt=0, allow_inf_nan=False),
    _written_as({"exclusiveMinimum": 0}),
]
"""A duration of more than zero seconds."""


def format_seconds(seconds: float) -> str:
    """Short human form: ``850ms``, ``12.5s``, ``2m05s``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s".replace(".0s", "s")
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:02.0f}s"
