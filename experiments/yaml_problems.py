"""YAML files validated by pydantic models: every problem placed at its line and column, in an author's words.

PyYAML keeps the last of two equal keys without a word, and pydantic reports field paths in a programmer's
terms. Here a file is read into its data and its nodes by field path, so that a problem at any path
(pydantic's, or a caller's own check) is shown where that path is in the file; and pydantic's messages are
reworded to say what was expected, what was found, and which names would be valid. Nothing here knows what
the file describes: callers pass the discriminator fields of their unions and the registries of their tags.
"""

from __future__ import annotations

import difflib
import io
import json
import re
import reprlib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from mlchaos.experiments.errors import InvalidInput
from mlchaos.experiments.file_limits import MAX_YAML_BYTES, FileTooLarge, read_limited

Loc = tuple[int | str, ...]
Nodes = dict[Loc, tuple[yaml.Mark, yaml.Node]]  # a file's nodes by field path, and where each entry starts
# The names a union's tags may take, by the top-level field holding the union: a noun and the names, e.g.
# {"faults": ("fault type", [...])}. A union with no registry is described by its own Literal tags.
Registries = Mapping[str, tuple[str, list[str]]]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file: where (file, 1-based line and column, field path) and what."""

    file: Path
    line: int | None
    column: int | None
    where: str
    message: str

    def __str__(self) -> str:
        position = "".join(f":{n}" for n in (self.line, self.column if self.line else None) if n is not None)
        return f"{self.file}{position}: " + (f"{self.where}: " if self.where else "") + self.message


class Unusable(InvalidInput):
    """A file with nothing to validate (unreadable, not YAML, empty, not a mapping), and why: one problem."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def read(path: Path) -> tuple[str, Nodes, Any, list[Problem]]:
    """The text of ``path``, its nodes (for line numbers), its data (for pydantic) and its duplicate keys; or
    :class:`Unusable`."""
    try:
        # Bounded: a file far too large (or a device) is refused before it is read whole.
        raw = read_limited(path, MAX_YAML_BYTES)
        text = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8").read()  # newlines as read_text reads them
    except FileTooLarge as exc:
        message = f"the file is {exc}, the most a scenario, target or suite file may be (the right file?)"
        raise Unusable(Problem(path, None, None, "", message)) from None
    except UnicodeDecodeError as exc:  # shown where the first bad byte is
        data: bytes = exc.object
        line, column = data.count(b"\n", 0, exc.start) + 1, exc.start - data.rfind(b"\n", 0, exc.start)
        message = f"cannot read the file: not UTF-8 text ({exc.reason}: byte 0x{data[exc.start]:02x}); save it as UTF-8"
        raise Unusable(Problem(path, line, column, "", message)) from None
    except OSError as exc:
        raise Unusable(Problem(path, None, None, "", f"cannot read the file: {exc.strerror}")) from None
    return (text, *_parse(path, text))


class _Loader(yaml.SafeLoader):
    """A safe loader that records duplicate keys, which PyYAML accepts silently, keeping the last value: a
    second ``faults:`` further down would quietly replace the first."""

    duplicates: list[tuple[yaml.MappingNode, yaml.Node, yaml.Node]]  # mapping, first key, repeated key
    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        # Deep nesting costs PyYAML's scanner time quadratic in the depth (seconds at a few hundred levels),
        # then a RecursionError; a scenario needs a handful of levels.
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.get_mark()
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", mark
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[Any, yaml.Node] = {}
        # Overriding keys merged in by `<<:` is deliberate; an unhashable key is the base class's to report.
        for key_node, _ in (entry for entry in node.value if entry[0].tag != "tag:yaml.org,2002:merge"):
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, typing.Hashable) and first.setdefault(key, key_node) is not key_node:
                self.duplicates.append((node, first[key], key_node))
        return super().construct_mapping(node, deep=deep)


def _parse(path: Path, text: str) -> tuple[Nodes, Any, list[Problem]]:
    """The nodes, the data and duplicate keys; or :class:`Unusable` when there is no mapping to validate."""
    try:
        loader = _Loader(text)  # its reader refuses control characters at once
    except yaml.YAMLError as exc:
        raise Unusable(_yaml_problem(path, exc, text)) from None
    loader.duplicates = []
    try:
        root = loader.get_single_node()
        if root is not None and (too_big := _oversized(path, root)) is not None:
            raise Unusable(too_big)  # before constructing it: that is where an alias bomb would go off
        data = None if root is None else loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise Unusable(_yaml_problem(path, exc, text)) from None
    except RecursionError:
        mark = loader.get_mark()
        message = "nested too deeply (hundreds of levels of lists or mappings); a scenario needs a few"
        raise Unusable(_at(path, mark, "", message)) from None
    finally:
        loader.dispose()
    if root is None:
        raise Unusable(Problem(path, None, None, "", "empty file; expected a mapping of fields"))
    if not isinstance(root, yaml.MappingNode):
        message = f"expected a mapping of fields at the top level, got {_describe(data)}"
        raise Unusable(_at(path, root.start_mark, "", message))
    nodes = _nodes(root)
    locs = {id(node): loc for loc, (_, node) in nodes.items()}
    return (
        nodes,
        data,
        [
            _at(
                path,
                repeated.start_mark,
                dotted((*locs.get(id(mapping), ()), repeated.value)),
                f"duplicate key '{repeated.value}' (first at line {first.start_mark.line + 1}); "
                "YAML would silently keep only the last value",
            )
            for mapping, first, repeated in loader.duplicates
        ],
    )


MAX_DEPTH = 64
"""Levels of lists and mappings a file may nest (a scenario uses five or so)."""
MAX_VALUES = 100_000
"""Values a file may hold once its aliases are expanded: a scenario has hundreds; an alias bomb ("billion
laughs": each level repeating the one before nine times) has billions, and would eat the memory of whatever
copies it — validation, the run directory's scenario.yaml, the load generator."""
MAX_INT_DIGITS = 4000  # below Python's own limit on converting text to int (4300), which would raise


def _oversized(path: Path, root: yaml.Node) -> Problem | None:
    """Whether the composed document would expand into too much (or forever), or holds an integer too long to
    convert; measured on the nodes, where an alias is one shared node, in time linear in the file."""
    size: dict[int, int] = {}
    started: set[int] = set()  # nodes being measured: the ancestors of the one at hand
    todo: list[tuple[Loc, yaml.Mark, yaml.Node, bool]] = [(Loc(), root.start_mark, root, False)]
    while todo:
        loc, mark, node, finished = todo.pop()
        entries = _entries(node)
        if finished:
            started.discard(id(node))
            size[id(node)] = min(MAX_VALUES + 1, 1 + sum(size[id(entry[2])] for entry in entries))
        elif id(node) in started:
            message = "refers to itself through an alias: a recursive structure never ends"
            return _at(path, mark, dotted(loc), message)
        elif id(node) not in size:
            if node.tag.endswith(":int") and len(str(node.value)) > MAX_INT_DIGITS:
                message = f"an integer of {len(str(node.value))} digits; no field takes a number that large"
                return _at(path, mark, dotted(loc), message)
            started.add(id(node))
            todo += [
                (loc, mark, node, True),
                *(((*loc, part), at, child, False) for part, at, child in entries),
            ]
    if size[id(root)] <= MAX_VALUES:
        return None
    loc, mark, node = Loc(), root.start_mark, root
    # Down to the innermost value that is still too big: where the repetition starts.
    while inner := next((e for e in _entries(node) if size[id(e[2])] > MAX_VALUES), None):
        loc, mark, node = (*loc, inner[0]), inner[1], inner[2]
    message = (
        f"expands to more than {MAX_VALUES:,} values through aliases (*name): refused as an alias bomb; "
        "repeat less, or write the values out"
    )
    return _at(path, mark, dotted(loc), message)


def _entries(node: yaml.Node) -> list[tuple[int | str, yaml.Mark, yaml.Node]]:
    """The values in a collection node: where each is in the data (key or index), where its entry starts."""
    if isinstance(node, yaml.MappingNode):
        return [(str(key.value), key.start_mark, value) for key, value in node.value]
    if isinstance(node, yaml.SequenceNode):
        return [(i, item.start_mark, item) for i, item in enumerate(node.value)]
    return []


def _yaml_problem(path: Path, exc: yaml.YAMLError, text: str) -> Problem:
    if isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.position, int):
        at = exc.position  # a character YAML does not allow anywhere, e.g. a control character
        line, column = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
        message = f"invalid YAML: character #x{exc.character:04x} is not allowed in a YAML file"
        return Problem(path, line, column, "", message)
    if not isinstance(exc, yaml.MarkedYAMLError) or not (mark := exc.problem_mark or exc.context_mark):
        return Problem(path, 1, 1, "", f"invalid YAML: {exc}")
    # As PyYAML words it: the context ("while parsing a flow sequence", where it began), then the problem.
    context = f"{exc.context} at line {exc.context_mark.line + 1}" if exc.context and exc.context_mark else ""
    message = "invalid YAML: " + ", ".join(part for part in (context, exc.problem) if part)
    return _at(path, mark, "", message + "; indent with spaces, not tabs" * ("'\\t'" in message))


def _nodes(root: yaml.Node) -> Nodes:
    """Of duplicate keys the last wins, as in the data; aliased nodes (even cycles) are visited once."""
    nodes: Nodes = {}
    seen, todo = set[int](), [(Loc(), root.start_mark, root)]
    for loc, mark, node in todo:  # grows while iterating: a breadth-first walk
        if id(node) not in seen:
            seen.add(id(node))
            nodes[loc] = (mark, node)
            if isinstance(node, yaml.MappingNode):
                todo += [
                    ((*loc, k.value), k.start_mark, v)
                    for k, v in node.value
                    if isinstance(k, yaml.ScalarNode)
                ]
            elif isinstance(node, yaml.SequenceNode):
                todo += [((*loc, i), item.start_mark, item) for i, item in enumerate(node.value)]
    return nodes


def validation_problems(
    path: Path,
    nodes: Nodes,
    error: ValidationError,
    annotation: Any,
    *,
    tag_keys: tuple[str, ...],
    registries: Registries,
) -> list[Problem]:
    """Each of pydantic's errors about the data of ``path`` as ``annotation``, located and reworded."""
    problems = []
    for e in error.errors():  # an unknown tag is shown on the line that names it: `type: cpu_hog`
        tag = (e["ctx"]["discriminator"].strip("'"),) if e["type"] == "union_tag_invalid" else ()
        message = reworded(e, annotation, registries)
        problems.append(located(path, nodes, (*e["loc"], *tag), message, tag_keys=tag_keys))
    return problems


def located(path: Path, nodes: Nodes, loc: Loc, message: str, *, tag_keys: tuple[str, ...]) -> Problem:
    """A problem where a pydantic ``loc`` leads in the file: at a mapping entry's key, at a list item, or
    (for a field the file lacks) at the closest enclosing node. ``tag_keys`` are the discriminator fields of
    the file's unions, whose values pydantic puts in a loc."""
    found, tagged = Loc(), None
    for part in loc:
        # Skip what pydantic adds: a union's tag after the union's loc ('latency', from `type: latency`, even
        # where a key has that name) and markers such as '[key]'. Else, a part not in the file is missing.
        tags = [getattr(nodes.get((*found, key), (None, None))[1], "value", None) for key in tag_keys]
        if found != tagged and part in tags:
            tagged = found
        elif (*found, part) in nodes:
            found = (*found, part)
    last = loc[-1:]  # when not in the file: a missing field, or a marker such as '[key]'
    where = found if found[-1:] == last or str(*last).startswith("[") else (*found, *last)
    return _at(path, nodes[found][0], dotted(where), message)


def reworded(error: ErrorDetails, annotation: Any, registries: Registries) -> str:
    """Pydantic's message, reworded where it does not tell an author what to write."""
    kind, loc, ctx = error["type"], error["loc"], error.get("ctx", {})
    if kind == "missing" and isinstance(loc[-1], int):  # an item of a fixed-length list: `wait: [min, max]`
        return f"missing item [{loc[-1]}]"
    if kind == "missing":
        return f"missing required field '{loc[-1]}'"
    if kind == "too_short":
        return f"expected at least {ctx['min_length']} item(s), got {ctx['actual_length']}"
    if kind == "extra_forbidden":
        return f"unknown field '{loc[-1]}'" + _suggest(str(loc[-1]), _field_names(annotation, loc[:-1]))
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        discriminator = ctx["discriminator"].strip("'")
        own_tags = re.findall(r"'([^']*)'", ctx.get("expected_tags", ""))  # of unions without a registry
        # e.g. "target kind" at the top level; a union nested in a list item is named by its discriminator alone
        own = (" ".join(map(str, (*loc[-1:], discriminator))) if len(loc) <= 1 else discriminator, own_tags)
        # a registry names the union right under its field (faults[0]), not one nested deeper (a fault's part)
        noun, known = registries.get(str(loc[0]), own) if len(loc) == 2 else own
        if kind == "union_tag_not_found":
            return f"missing required field '{discriminator}'" + f"; known: {', '.join(known)}" * bool(known)
        return f"unknown {noun} '{ctx['tag']}'" + _suggest(str(ctx["tag"]), known, "known")
    if kind == "value_error":  # raised by the models' own validators, already phrased for authors
        return str(ctx["error"])
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping, got {_describe(error['input'])}"
    expected = re.sub(r", unable to .*$", "", re.sub(r"^Input should be ", "expected ", error["msg"]))
    return f"{expected}, got {_describe(error['input'])}"


def _suggest(name: str, names: list[str], label: str = "valid") -> str:
    close = difflib.get_close_matches(name, names, n=1)
    return f"; did you mean '{close[0]}'?" if close else f"; {label}: {', '.join(names)}" * bool(names)


def _field_names(annotation: Any, loc: Loc) -> list[str]:
    """The fields (by alias, as YAML spells them) of the model(s) validating the value at ``loc``. Each part
    of the loc selects a field, a union member by its tag (a value of its Literal discriminator), or items."""
    found: list[Any] = [annotation]
    for part in (*loc, None):
        members = [member for annotation in found for member in _members(annotation)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        if part is None:
            return sorted({field.alias or name for m in models for name, field in m.model_fields.items()})
        fields = [f.annotation for m in models for n, f in m.model_fields.items() if part in (n, f.alias)]
        tagged = [
            m for m in models if any(part in typing.get_args(f.annotation) for f in m.model_fields.values())
        ]
        items = [
            typing.get_args(m)[-1 if typing.get_origin(m) is dict else 0]
            for m in members
            if typing.get_origin(m) in (list, tuple, dict)
        ]
        found = fields or tagged or items
    return []


def _members(annotation: Any) -> list[Any]:
    """The alternatives an annotation stands for, through ``Annotated`` and unions."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [member for arg in typing.get_args(annotation) for member in _members(arg)]
    return [annotation]


def _at(path: Path, mark: yaml.Mark, where: str, message: str) -> Problem:
    return Problem(path, mark.line + 1, mark.column + 1, where, message)  # PyYAML counts from 0


def dotted(loc: Loc) -> str:
    """``('faults', 1, 'duration')`` → ``faults[1].duration``."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def _describe(value: object) -> str:
    if isinstance(value, dict | list):
        return "a mapping" if isinstance(value, dict) else "a list"
    return json.dumps(value) if value is None or isinstance(value, bool) else reprlib.repr(value)
