"""``mlchaos schema``: the JSON Schema of scenario, suite and target files, for editors."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from mlchaos.experiments.file_schemas import FileKind, schema_text


def schema_command(
    kind: Annotated[FileKind, typer.Argument(help="Which file's schema.")] = FileKind.scenario,
) -> None:
    """Print the JSON Schema of a scenario, suite or target file.

    With it an editor completes field names, shows what each one means and underlines a wrong value as you
    type. Editors that use the YAML language server (VS Code's YAML extension, Neovim's yamlls, Helix,
    JetBrains IDEs) read the schema named on a comment line of the YAML file, by a path relative to that file,
    so it works offline:

    \b
        mlchaos schema scenario > scenario.schema.json
        # yaml-language-server: $schema=scenario.schema.json
        (the first line of my-scenario.yaml, next to it)

    The repository's scenarios point at committed copies, docs/reference/*.schema.json. `mlchaos validate`
    stays the authority: it also checks fault ids, tier names, datasets and templates, which no schema can.
    Fault and verifier kinds of installed packages are included.
    """
    sys.stdout.write(schema_text(kind))
