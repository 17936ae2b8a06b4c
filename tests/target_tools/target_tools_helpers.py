"""Driving ``mlchaos target check`` and ``mlchaos init`` in-process, as the tests of this folder do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from mlchaos.experiments.cli import app


@dataclass(frozen=True)
class Result:
    exit_code: int
    output: str
    """stdout and stderr, whitespace collapsed: rich wraps long lines at the console's width."""


def mlchaos(*args: str | Path) -> Result:
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, " ".join(result.output.split()))


def write_yaml(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path
