"""Request features from a service's OpenAPI document: the JSON request body of ``POST <predict path>``.

Read from the body's schema: ``type`` (integer, number, boolean, string), ``minimum``/``maximum`` (and the
exclusive bounds, taken as bounds), ``enum`` and ``const`` (a category), ``required``; ``$ref`` is followed
within the document (``#/components/schemas/…``), ``allOf`` merged, a nullable ``anyOf``/``oneOf`` (``[X, null]``,
as pydantic writes ``Optional``) read as ``X``, and nested objects become dotted paths (``txn.price``).
Arrays, free-form objects and alternatives of several types are not features: nothing can be said of them.

Pure: the caller fetches the document (:func:`mlchaos.experiments.service_schema.fetch_openapi`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mlchaos.experiments.errors import TargetUnusable
from mlchaos.experiments.inputs.schema import FeatureType

Partial = dict[str, Any]
"""The fields of a :class:`~mlchaos.experiments.inputs.schema.Feature` one source knows (``type``, ``min``,
``max``, ``choices``, ``required``)."""

MAX_DEPTH = 12
"""Nesting (and ``$ref`` hops) followed at most: a recursive schema ends there."""
_KEY = re.compile(r"^[A-Za-z0-9_$@-]+$")
_TYPES = {
    "integer": FeatureType.INTEGER,
    "number": FeatureType.NUMBER,
    "boolean": FeatureType.BOOL,
    "string": FeatureType.ID,
}


class OpenApiProblem(ValueError, TargetUnusable):
    """The document does not describe a JSON request body for the predict path; the message says what is missing."""


def request_body_schema(document: Mapping[str, Any], predict_path: str) -> Mapping[str, Any]:
    """The (resolved) schema of ``POST predict_path``'s JSON request body."""
    paths = document.get("paths")
    if not isinstance(paths, Mapping):
        raise OpenApiProblem("the document has no `paths`")
    item = paths.get(predict_path) or paths.get(predict_path.rstrip("/")) or paths.get(predict_path + "/")
    operation = _resolve(document, item.get("post") if isinstance(item, Mapping) else None)
    if not operation:
        raise OpenApiProblem(f"the document describes no POST {predict_path}")
    body = _resolve(document, operation.get("requestBody"))
    content = body.get("content") if body else None
    if not isinstance(content, Mapping) or not content:
        raise OpenApiProblem(f"POST {predict_path} declares no request body content")
    json_types = [
        t for t in content if t.split(";")[0].strip() in ("application/json",) or t.endswith("+json")
    ]
    media = content[json_types[0]] if json_types else None
    schema = _resolve(document, media.get("schema")) if isinstance(media, Mapping) else None
    if not schema:
        raise OpenApiProblem(f"POST {predict_path} has no JSON request body schema")
    return schema


def openapi_features(document: Mapping[str, Any], predict_path: str) -> dict[str, Partial]:
    """Feature path → what the document says of it, in the order of its properties.

    Raises :class:`OpenApiProblem` when the document has no JSON request body for ``POST predict_path``."""
    found: dict[str, Partial] = {}
    _walk(document, request_body_schema(document, predict_path), "", True, found, 0)
    return found


def _resolve(document: Mapping[str, Any], node: Any, depth: int = 0) -> Mapping[str, Any] | None:
    """``node`` with ``$ref`` followed (within the document only) and ``allOf`` merged; ``None`` if unusable."""
    if not isinstance(node, Mapping) or depth > MAX_DEPTH:
        return None
    ref = node.get("$ref")
    if isinstance(ref, str):
        return _resolve(document, _pointer(document, ref), depth + 1)
    parts = node.get("allOf")
    if isinstance(parts, list):
        merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
        for part in parts:
            resolved = _resolve(document, part, depth + 1) or {}
            for key, value in resolved.items():
                if key == "properties" and isinstance(value, Mapping):
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required" and isinstance(value, list):
                    merged["required"] = [*merged.get("required", []), *value]
                else:
                    merged.setdefault(key, value)
        return merged
    return node


def _pointer(document: Mapping[str, Any], ref: str) -> Any:
    """The node a local JSON pointer (``#/components/schemas/X``) names; ``None`` for other documents' refs."""
    if not ref.startswith("#/"):
        return None
    node: Any = document
    for raw in ref[2:].split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def _alternative(
    document: Mapping[str, Any], schema: Mapping[str, Any], depth: int
) -> Mapping[str, Any] | None:
    """The one non-null alternative of an ``anyOf``/``oneOf``, resolved; ``None`` if there are several."""
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list):
            real = [
                o
                for o in (_resolve(document, o, depth + 1) for o in options)
                if o and o.get("type") != "null"
            ]
            return real[0] if len(real) == 1 else None
    return schema


def _walk(
    document: Mapping[str, Any],
    schema: Mapping[str, Any] | None,
    path: str,
    required: bool,
    found: dict[str, Partial],
    depth: int,
) -> None:
    schema = _resolve(document, schema, depth)
    schema = _alternative(document, schema, depth) if schema else None
    if not schema or depth > MAX_DEPTH:
        return
    kind = schema.get("type")
    if isinstance(kind, list):  # OpenAPI 3.1: ["integer", "null"]
        real = [k for k in kind if k != "null"]
        kind = real[0] if len(real) == 1 else None
    properties = schema.get("properties")
    if (kind == "object" or kind is None) and isinstance(properties, Mapping):
        needed = set(schema.get("required") or ())
        for key, sub in properties.items():
            if isinstance(key, str) and _KEY.match(key):
                _walk(
                    document,
                    sub,
                    f"{path}.{key}" if path else key,
                    required and key in needed,
                    found,
                    depth + 1,
                )
        return
    if not path:
        return
    feature = _feature(schema, kind)
    if feature is not None:
        found[path] = {**feature, "required": required}


def _feature(schema: Mapping[str, Any], kind: Any) -> Partial | None:
    values = schema.get("enum")
    if "const" in schema:
        values = [schema["const"]]
    if isinstance(values, list):
        choices = tuple(v for v in values if isinstance(v, str | int | bool) and not isinstance(v, float))
        return {"type": FeatureType.CATEGORY, "choices": choices} if choices else None
    if kind not in _TYPES:
        return None
    partial: Partial = {"type": _TYPES[kind]}
    if kind in ("integer", "number"):
        low = _bound(schema, "minimum", "exclusiveMinimum")
        high = _bound(schema, "maximum", "exclusiveMaximum")
        if low is not None:
            partial["min"] = low
        if high is not None:
            partial["max"] = high
    return partial


def _bound(schema: Mapping[str, Any], inclusive: str, exclusive: str) -> float | None:
    # OpenAPI 3.0 writes an exclusive bound as `minimum` + `exclusiveMinimum: true`; 3.1 as a number
    for key in (inclusive, exclusive):
        value = schema.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None
