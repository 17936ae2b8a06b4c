"""Request bodies built from a request schema alone: one body of typical values (what ``mlchaos target check``
and ``mlchaos init`` send when no dataset or body is given), and a body template for a starter scenario's load
(Jinja expressions in the style :class:`~mlchaos.experiments.load.bodies.TemplateBodies` renders).

A typical value is the one least likely to surprise the service: a number at the middle of its typical range
(else the document's example, else the middle of its valid range), a category's first (most common) choice,
``false``, an id from the document's example. Feature paths may be nested (``txn.price``): see
:mod:`mlchaos.experiments.inputs.paths`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlchaos.experiments.inputs.paths import put_path
from mlchaos.experiments.inputs.schema import Feature, FeatureType, RequestSchema

PLACEHOLDER_ID = "id-1"
"""An id feature's value when nothing says what the service's ids look like."""
_JINJA = ("{{", "}}", "{%", "%}", "{#", "#}")


def typical_value(feature: Feature, example: Any = None) -> Any:
    """The value of ``feature`` a normal request would carry (see the module)."""
    kind = feature.type
    if kind in (FeatureType.NUMBER, FeatureType.INTEGER):
        value = _typical_number(feature, example)
        return round(value) if kind is FeatureType.INTEGER else value
    if kind is FeatureType.BOOL:
        return example if isinstance(example, bool) else False
    if kind is FeatureType.CATEGORY and feature.choices:
        return feature.choices[0]
    if isinstance(example, str | int) and not isinstance(example, bool):
        return example
    return PLACEHOLDER_ID


def _typical_number(feature: Feature, example: Any) -> float:
    if feature.typical is not None:
        return (feature.typical[0] + feature.typical[1]) / 2
    if isinstance(example, int | float) and not isinstance(example, bool) and math.isfinite(example):
        return float(example)
    if feature.min is not None and feature.max is not None:
        return (feature.min + feature.max) / 2
    return feature.min if feature.min is not None else feature.max if feature.max is not None else 1.0


def typical_body(schema: RequestSchema, examples: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A body holding every feature of ``schema`` at its typical value (``examples``: feature path → the
    OpenAPI document's example)."""
    body: dict[str, Any] = {}
    for path, feature in schema.features.items():
        put_path(body, path, typical_value(feature, (examples or {}).get(path)))
    return body


@dataclass(frozen=True)
class TemplateField:
    """One feature of a starter template: the value (a Jinja expression or a constant) and what it is, for the
    comment a person reads next to it."""

    path: str
    value: Any
    note: str


def template_fields(schema: RequestSchema, examples: Mapping[str, Any] | None = None) -> list[TemplateField]:
    """One field per feature: uniform over a number's typical range (else its valid range), a random choice
    of a category, a constant id (the example): what a load template of normal traffic could send."""
    return [_template(path, feature, (examples or {}).get(path)) for path, feature in schema.features.items()]


def template_body(fields: list[TemplateField]) -> dict[str, Any]:
    """The fields as a body template (nested where the paths are)."""
    body: dict[str, Any] = {}
    for one in fields:
        put_path(body, one.path, one.value)
    return body


def _template(path: str, feature: Feature, example: Any) -> TemplateField:
    kind = feature.type
    if feature.numeric:
        low, high, where = _range(feature, example)
        integer = kind is FeatureType.INTEGER
        if low == high:
            value = round(low) if integer else low
            return TemplateField(path, value, f"{kind.value}: always {value} ({where})")
        low_text, high_text = (
            (str(math.ceil(low)), str(math.floor(high))) if integer else (_number(low), _number(high))
        )
        call = "randint" if integer else "uniform"
        note = f"{kind.value}: uniform over {low_text}..{high_text} ({where})"
        return TemplateField(path, f"{{{{ {call}({low_text}, {high_text}) }}}}", note)
    if kind is FeatureType.BOOL:
        return TemplateField(path, "{{ choice([false, true]) }}", "bool: false or true, half each")
    if kind is FeatureType.CATEGORY and feature.choices:
        if len(feature.choices) == 1 or any(_has_jinja(c) for c in feature.choices):
            return TemplateField(path, feature.choices[0], "category: its first choice")
        listed = json.dumps(list(feature.choices))  # JSON literals are Jinja literals (true/false included)
        return TemplateField(path, f"{{{{ choice({listed}) }}}}", "category: one of its choices, alike")
    value = typical_value(feature, example)
    where = "the OpenAPI example" if example is not None else "a placeholder"
    return TemplateField(
        path, value, f"{kind.value}: always {value!r} ({where}) — use values your service knows"
    )


def _range(feature: Feature, example: Any) -> tuple[float, float, str]:
    if feature.typical is not None:
        return feature.typical[0], feature.typical[1], "its typical range"
    if feature.min is not None and feature.max is not None:
        return feature.min, feature.max, "its valid range: narrow it to what normal traffic sends"
    value = _typical_number(feature, example)
    return value, value, "no range known: give one"


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) and abs(value) < 1e15 else repr(value)


def _has_jinja(value: object) -> bool:
    return isinstance(value, str) and any(mark in value for mark in _JINJA)
