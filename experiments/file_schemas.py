"""The JSON Schema of each kind of file an author writes — scenario, suite, target — for ``mlchaos schema``.

An editor that knows the schema completes field names and underlines a wrong value as it is typed; ``mlchaos
validate`` stays the authority (it also checks what no schema can: fault ids, tier names, files, templates). So
each schema describes the file *as written* (pydantic's validation mode): durations as ``10s`` as well as seconds,
``target: embedded`` or ``target: staging.yaml`` as well as a mapping. The committed copies under
docs/reference/ are what the catalogue's ``# yaml-language-server: $schema=`` comments point at; they describe
mlchaos's own fault and verifier kinds only, while ``mlchaos schema`` also knows those of installed packages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

from mlchaos.experiments.scenario import Scenario
from mlchaos.experiments.suite import SuiteSpec
from mlchaos.experiments.targets import Target
from mlchaos.experiments.verifiers import verifier_kinds
from mlchaos.injectors import fault_kinds

Schema = dict[str, Any]


class FileKind(StrEnum):
    """The kinds of file an author writes, as ``mlchaos schema`` names them."""

    scenario = "scenario"
    suite = "suite"
    target = "target"


_TITLES = {
    FileKind.scenario: "mlchaos scenario file",
    FileKind.suite: "mlchaos suite file",
    FileKind.target: "mlchaos target file",
}
_MODELS: dict[FileKind, Any] = {
    FileKind.scenario: Scenario,
    FileKind.suite: SuiteSpec,
    FileKind.target: Target,
}


class FileSchema(GenerateJsonSchema):
    """pydantic's generator, also giving the defaults made by a factory (``Field(default_factory=dict)``): an
    editor then offers them, and the reference pages show them."""

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            return factory()  # type: ignore[call-arg]  # takes no data: checked on the line above
        return super().get_default_value(schema)


def json_schema(kind: FileKind, *, plugins: bool = True) -> Schema:
    """The JSON Schema (draft 2020-12, as pydantic writes it) of a file of ``kind``, as its author writes it.
    Without ``plugins`` the fault and verifier kinds of installed packages are left out (the committed copies)."""
    roots, defs = schemas([_MODELS[kind], *([] if plugins else plugin_specs())])
    # A model's schema is a $ref to its definition: the file's schema is that definition, its fields on top.
    root = defs[ref_key(roots[0])] if set(roots[0]) == {"$ref"} else roots[0]
    schema = without_models(root, defs, left_out_keys=[ref_key(other) for other in roots[1:]])
    return {"title": _TITLES[kind], **{key: value for key, value in schema.items() if key != "title"}}


def schema_text(kind: FileKind, *, plugins: bool = True) -> str:
    """:func:`json_schema` as a file holds it: indented, keys in the models' order, ending in a newline."""
    return json.dumps(json_schema(kind, plugins=plugins), indent=2, ensure_ascii=False) + "\n"


def schemas(types: Sequence[Any]) -> tuple[list[Schema], dict[str, Schema]]:
    """The JSON Schema of each of ``types`` (a model's is a ``$ref``) and the ``$defs`` they refer to, in one
    namespace: two models of the same name are told apart there."""
    generator = FileSchema(ref_template="#/$defs/{model}")
    inputs = [(i, "validation", TypeAdapter(t).core_schema) for i, t in enumerate(types)]
    mapping, defs = generator.generate_definitions(inputs)  # type: ignore[arg-type]  # keys: the indices
    return [mapping[(i, "validation")] for i in range(len(types))], {
        str(key): value for key, value in defs.items()
    }


def plugin_specs() -> list[type[BaseModel]]:
    """The models of fault and verifier kinds that installed packages registered (not mlchaos's own)."""
    kinds = [*fault_kinds().values(), *verifier_kinds().values()]
    return [kind.spec for kind in kinds if kind.distribution is not None]


def ref_key(schema: Schema) -> str:
    return str(schema.get("$ref", "")).rsplit("/", 1)[-1]


def without_models(root: Schema, defs: dict[str, Schema], *, left_out_keys: list[str]) -> Schema:
    """``root`` with ``$defs``: only the definitions it reaches, after dropping the ``left_out_keys`` models
    from every union (a discriminated union's mapping too)."""
    refs = {f"#/$defs/{key}" for key in left_out_keys}

    def prune(node: Any) -> Any:
        if isinstance(node, list):
            return [prune(item) for item in node if not (isinstance(item, dict) and item.get("$ref") in refs)]
        if not isinstance(node, dict):
            return node
        if isinstance(node.get("mapping"), dict):  # a discriminator: {tag: ref}
            node = {**node, "mapping": {tag: ref for tag, ref in node["mapping"].items() if ref not in refs}}
        return {key: prune(value) for key, value in node.items()}

    root = prune(root)
    kept = {key: prune(value) for key, value in defs.items() if key not in left_out_keys}
    reached: dict[str, Schema] = {}
    pending = list(_refs(root))
    while pending:
        key = pending.pop()
        if key not in reached:
            reached[key] = kept[key]
            pending += _refs(kept[key])
    return {**root, **({"$defs": dict(sorted(reached.items()))} if reached else {})}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"].rsplit("/", 1)[-1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)
