"""JSON Schema and docstrings to Markdown, for the generated reference pages (:mod:`.reference_docs`).

The pages are rendered from the same JSON Schema ``mlchaos schema`` prints, so what they say a field accepts is
what an editor accepts: a type column in the terms an author writes (``duration > 0``, ``list of Feature``),
the default, and the field's ``Field(description=...)``. A field whose type is another model links to that
model's own table further down the page (or on another page). Output is a pure function of the models: no dates,
no paths, no dict order that is not the models' own.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mlchaos.experiments.durations import DURATION_PATTERN

Schema = dict[str, Any]


@dataclass(frozen=True)
class Link:
    """Where a model is documented: ``page`` ("" for this page) and ``anchor``, shown as ``label``."""

    page: str
    anchor: str
    label: str

    @property
    def href(self) -> str:
        return f"{self.page}#{self.anchor}"


def slug(heading: str) -> str:
    """The anchor a code host gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def markdown_docstring(doc: str | None, name: str = "") -> str:
    """A docstring in Markdown: reST literals and roles as code, ``::`` as ``:``, and a leading
    ```name``: ` (how module docstrings open) dropped, since the heading names it."""
    text = inspect.cleandoc(doc or "")
    if name and text.startswith(f"``{name}``: "):
        text = text[len(name) + 6 :]
        text = text[:1].upper() + text[1:]
    text = re.sub(r":\w+:`~?[\w.]*?(\w+)`", r"`\1`", text)  # :class:`~a.b.C` → `C`: a name a reader can grep
    text = text.replace("``", "`")
    return re.sub(r"::$", ":", text, flags=re.MULTILINE)


def first_sentence(text: str) -> str:
    """For a summary table: up to the first full stop of the first paragraph (which may lead into a list)."""
    paragraph = text.strip().split("\n\n")[0].replace("\n", " ")
    match = re.match(r"(.+?\.)(\s|$)", paragraph)
    return match.group(1) if match else paragraph.rstrip(":") + " …"


@dataclass
class ModelTables:
    """Renders models of one combined JSON Schema (``defs``) as field tables. Models in ``links`` are documented
    elsewhere and only linked; any other model a field refers to gets its own section, in :meth:`nested`."""

    defs: dict[str, Schema]
    links: dict[str, Link] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)
    """Anchors of the page's other headings, which a nested model's heading must not repeat."""
    _pending: list[str] = field(default_factory=list)
    _done: set[str] = field(default_factory=set)

    def table(self, model: Schema, *, skip: tuple[str, ...] = ()) -> list[str]:
        """The model's fields, in declaration order: name, type, default, description."""
        rows = ["| Field | Type | Default | Description |", "| --- | --- | --- | --- |"]
        required = set(model.get("required", ()))
        for name, prop in model.get("properties", {}).items():
            if name in skip:
                continue
            default = "**required**" if name in required else _default(prop)
            cells = (f"`{name}`", self.type_text(prop), default, self._description(prop))
            rows.append("| " + " | ".join(table_cell(c) for c in cells) + " |")
        return rows

    def nested(self, level: str = "###") -> Iterator[str]:
        """A section for each model the tables rendered so far referred to (and those they refer to), in the
        order they were first met: the lines of each, then a blank line."""
        while self._pending:
            key = self._pending.pop(0)
            model = self.defs[key]
            yield f"{level} {self._heading(key)}"
            yield ""
            if model.get("description"):
                yield markdown_docstring(model["description"])
                yield ""
            if "properties" in model:
                yield from self.table(model)
            else:  # an enum, or a union given a name of its own
                yield f"One of: {self.type_text(model)}."
            yield ""

    def type_text(self, schema: Schema) -> str:
        """How an author writes a value of ``schema``: ``duration > 0``, ``list of string``, a linked model."""
        if "$ref" in schema:
            return self._ref(schema["$ref"])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self._union(schema[key])
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.type_text(schema["allOf"][0])
        if "const" in schema:
            return f"`{json.dumps(schema['const'])}`"
        if "enum" in schema:
            return " or ".join(f"`{json.dumps(value)}`" for value in schema["enum"])
        kind = schema.get("type")
        if kind == "array":
            return self._array(schema)
        if kind == "object":  # a dict: values in additionalProperties, or by a key pattern (constrained keys)
            values = schema.get(
                "additionalProperties", next(iter(schema.get("patternProperties", {}).values()), None)
            )
            inner = self.type_text(values) if isinstance(values, dict) else "any"
            return f"map of name → {inner}" if values is not None else "object"
        if kind == "string":
            return "path" if schema.get("format") == "path" else _bounded("string", schema)
        return _bounded(kind, schema) if isinstance(kind, str) else "any"

    def _union(self, members: list[Schema]) -> str:
        strings = [m for m in members if m.get("type") == "string" and m.get("pattern") == DURATION_PATTERN]
        numbers = [m for m in members if m.get("type") == "number"]
        if strings and numbers and len(members) == 2:  # durations.py: seconds, or a string with a unit
            return _bounded("duration", numbers[0])
        linked = {self.links[_key(m["$ref"])].page for m in members if _key(m.get("$ref")) in self.links}
        if len(linked) == 1 and all(_key(m.get("$ref")) in self.links for m in members) and len(members) > 1:
            page = linked.pop()
            return f"[{_PAGE_LABELS.get(page, page)}]({page})"
        parts = [self.type_text(m) for m in members if m.get("type") != "null"]
        nullable = len(parts) < len(members)
        return " or ".join(dict.fromkeys(parts)) + (" or `null`" if nullable else "")

    def _array(self, schema: Schema) -> str:
        if "prefixItems" in schema:
            return "[" + ", ".join(self.type_text(item) for item in schema["prefixItems"]) + "]"
        items = self.type_text(schema.get("items", {}))
        bounds = []
        if "minItems" in schema:
            bounds.append(f"at least {schema['minItems']}")
        if "maxItems" in schema:
            bounds.append(f"at most {schema['maxItems']}")
        return f"list of {items}" + (f" ({', '.join(bounds)})" if bounds else "")

    def _ref(self, ref: str) -> str:
        key = _key(ref)
        if key in self.links:
            link = self.links[key]
            return f"[{link.label}]({link.href})"
        if key not in self._done:
            self._done.add(key)
            self._pending.append(key)
        return f"[{self._title(key)}](#{slug(self._heading(key))})"

    def _title(self, key: str) -> str:
        """The model's name; its ``$defs`` name (module-qualified) when another model here has the same."""
        title = str(self.defs[key].get("title", key))
        return key if sum(d.get("title") == title for d in self.defs.values()) > 1 else title

    def _heading(self, key: str) -> str:
        """The model's section heading: its name, unless that would repeat another heading's anchor."""
        title = self._title(key)
        return f"{title} fields" if slug(title) in self.taken else title

    def _description(self, prop: Schema) -> str:
        if "description" in prop:
            return markdown_docstring(prop["description"])
        key = _key(prop.get("$ref"))  # a model field without its own description: the model's first sentence
        if key in self.defs and key not in self.links and self.defs[key].get("description"):
            return first_sentence(markdown_docstring(self.defs[key]["description"]))
        return ""


_PAGE_LABELS = {"faults.md": "a fault", "verifiers.md": "a verifier", "target.md": "a target"}


def _key(ref: str | None) -> str:
    return "" if ref is None else ref.rsplit("/", 1)[-1]


def _bounded(name: str, schema: Schema) -> str:
    """``integer ≥ 1, ≤ 1000``; a pattern or a length bound for strings."""
    bounds = [
        f"{sign} {schema[key]}"
        for key, sign in (
            ("minimum", "≥"),
            ("exclusiveMinimum", ">"),
            ("maximum", "≤"),
            ("exclusiveMaximum", "<"),
        )
        if key in schema
    ]
    if "pattern" in schema:
        bounds.append(f"matching `{schema['pattern']}`")
    if schema.get("minLength") == 1:
        name = f"non-empty {name}"
    elif "minLength" in schema:
        bounds.append(f"at least {schema['minLength']} characters")
    if "maxLength" in schema:
        bounds.append(f"at most {schema['maxLength']} characters")
    if schema.get("format") == "password":  # a SecretStr: masked wherever mlchaos shows it
        name = f"secret {name}"
    return name + (" " + ", ".join(bounds) if bounds else "")


def _default(prop: Schema) -> str:
    if "default" not in prop:
        return ""
    value = prop["default"]
    if isinstance(value, dict) and value and ("$ref" in prop or "anyOf" in prop or "allOf" in prop):
        # A nested model's default instance: its own table gives each field's default.
        tag = next((f"`{key}: {value[key]}`, " for key in ("kind", "type") if key in value), "")
        return f"{tag}its fields' defaults"
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def table_cell(text: str) -> str:
    """Text fit for a Markdown table cell: one line, its pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")
