"""Small scenario files written per test (the fixture files are in ``malformed/`` and ``valid/``)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

WriteFile = Callable[..., Path]


@pytest.fixture
def write(tmp_path: Path) -> WriteFile:
    """``write(text, name="scenario.yaml")``: the dedented text in a file in ``tmp_path``; its path."""

    def write_file(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write_file
