"""What ``mlchaos init`` and ``mlchaos target check`` read from a service's OpenAPI document besides its request
features (those are :mod:`mlchaos.experiments.inputs.openapi`'s): which POST operation is the prediction
endpoint, the example values the document gives for request fields (a value the service is known to accept,
e.g. an id that must match a pattern), and the values an answer field may take (an ``enum`` on the tier header
or field: the tier names).

Pure: the caller fetches the document. Everything here is a hint — a document that says nothing gives nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlchaos.experiments.inputs.openapi import OpenApiProblem, request_body_schema

PREDICT_WORDS = ("predict", "score", "infer", "classify")
"""A POST path containing one of these is preferred as the prediction endpoint."""
MAX_DEPTH = 12
"""Nesting and ``$ref`` hops followed at most: a recursive schema ends there."""


def predict_paths(document: Mapping[str, Any]) -> list[str]:
    """The paths whose POST takes a JSON request body, those named like a prediction endpoint first (in the
    document's order otherwise)."""
    paths = document.get("paths")
    if not isinstance(paths, Mapping):
        return []
    found = []
    for path in paths:
        if not isinstance(path, str):
            continue
        try:
            request_body_schema(document, path)
        except OpenApiProblem:
            continue
        found.append(path)
    return sorted(found, key=lambda path: not any(word in path.lower() for word in PREDICT_WORDS))


def request_examples(document: Mapping[str, Any], predict_path: str) -> dict[str, Any]:
    """Feature path → the ``example`` (or first of ``examples``, or a non-null ``default``) the request body's
    schema gives for it; empty when the document has no JSON body for ``POST predict_path``."""
    try:
        schema = request_body_schema(document, predict_path)
    except OpenApiProblem:
        return {}
    found: dict[str, Any] = {}
    _examples(document, schema, "", found, 0)
    return found


def answer_choices(document: Mapping[str, Any], predict_path: str, spec: str) -> tuple[str, ...]:
    """The values the 200 answer of ``POST predict_path`` may carry at ``spec`` (``header:NAME`` or a dotted
    path into the JSON body), when the document lists them (``enum``); empty otherwise."""
    paths = document.get("paths")
    item = paths.get(predict_path) if isinstance(paths, Mapping) else None
    operation = _resolved(document, item.get("post") if isinstance(item, Mapping) else None)
    responses = _resolved(document, operation.get("responses") if operation else None) or {}
    answer = _resolved(document, responses.get("200") or responses.get("2XX") or responses.get("201"))
    if answer is None:
        return ()
    if spec.startswith("header:"):
        headers = _resolved(document, answer.get("headers")) or {}
        name = spec.removeprefix("header:").lower()
        header = next((_resolved(document, h) for k, h in headers.items() if str(k).lower() == name), None)
        return _enum(document, header.get("schema") if header else None)
    content = _resolved(document, answer.get("content")) or {}
    media = next((_resolved(document, m) for t, m in content.items() if "json" in str(t)), None)
    node = _resolved(document, media.get("schema") if media else None)
    for step in spec.split("."):
        node = _nullable(document, node)
        if node is None:
            return ()
        if step.isdigit() and node.get("type") == "array":
            node = _resolved(document, node.get("items"))
        else:
            properties = _resolved(document, node.get("properties")) or {}
            node = _resolved(document, properties.get(step))
    return _enum(document, node)


def _resolved(document: Mapping[str, Any], node: Any, depth: int = 0) -> Mapping[str, Any] | None:
    """``node`` with a local ``$ref`` followed; ``None`` if it is not an object (or the refs go round)."""
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and depth <= MAX_DEPTH:
        node, depth = _pointer(document, node["$ref"]), depth + 1
    return node if isinstance(node, Mapping) and "$ref" not in node else None


def _pointer(document: Mapping[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        return None  # another document's schema: not followed
    node: Any = document
    for raw in ref[2:].split("/"):
        node = node.get(raw.replace("~1", "/").replace("~0", "~")) if isinstance(node, Mapping) else None
    return node


def _nullable(document: Mapping[str, Any], node: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The one non-null alternative of an ``anyOf``/``oneOf`` (as pydantic writes ``Optional``), else ``node``."""
    for key in ("anyOf", "oneOf"):
        options = node.get(key) if node else None
        if isinstance(options, list):
            real = [o for o in (_resolved(document, o) for o in options) if o and o.get("type") != "null"]
            return real[0] if len(real) == 1 else node
    return node


def _enum(document: Mapping[str, Any], node: Any) -> tuple[str, ...]:
    schema = _nullable(document, _resolved(document, node))
    values = schema.get("enum") if schema else None
    return tuple(v for v in values if isinstance(v, str)) if isinstance(values, list) else ()


def _examples(
    document: Mapping[str, Any], node: Mapping[str, Any] | None, path: str, found: dict[str, Any], depth: int
) -> None:
    if node is None or depth > MAX_DEPTH:
        return
    value = _example(node)
    inner = _nullable(document, node)
    if value is None and inner is not node and inner is not None:
        value = _example(inner)
    if path and value is not None and not isinstance(value, dict | list):
        found[path] = value
        return
    properties = _resolved(document, inner.get("properties")) if inner else None
    for key, sub in (properties or {}).items():
        child = f"{path}.{key}" if path else str(key)
        _examples(document, _resolved(document, sub, depth + 1), child, found, depth + 1)


def _example(node: Mapping[str, Any]) -> Any:
    if node.get("example") is not None:
        return node["example"]
    examples = node.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    return node.get("default")
