"""Fixtures for the report tests: synthetic run directories (run_dirs.py) and the CLI's run reader."""

from __future__ import annotations

from pathlib import Path

import pytest
from run_dirs import write_run_dir

from mlchaos.experiments.run_reader import RUN_READER
from mlchaos.experiments.scenario import Scenario
from mlchaos.reports import RunReader


@pytest.fixture
def reader() -> RunReader[Scenario]:
    return RUN_READER


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A finished synthetic run in which every verifier holds."""
    return write_run_dir(tmp_path / "20261122-100000-synthetic-outage")
