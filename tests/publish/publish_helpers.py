"""Helpers of the publishing tests: finished runs and suites written by mlchaos's own writers (the report tests'
synthetic run directories), their earlier runs."""

from __future__ import annotations

import copy
import json
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The report tests' run directories (tests/reports/run_dirs.py): real scenario, journal and parquet files.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reports"))
from run_dirs import T0, scenario_data, write_run_dir

from mlchaos.experiments.run_reader import RUN_READER
from mlchaos.reports import SuiteHeading, write_run_outputs, write_suite_outputs
from mlchaos.reports.run import read_run

DAY = 86_400.0
FAILING_VERIFIER = {"type": "latency", "phase": "fault", "percentile": 50, "max_ms": 0.001}
"""No synthetic request answers in a microsecond: this verifier cannot hold."""


_WRITTEN = tempfile.TemporaryDirectory(prefix="mlchaos-publish-tests-")  # removed when the tests end
"""Each kind of run is written once (writing the reports takes a second or two) and copied for each test."""


def make_run(parent: Path, name: str = "synthetic-outage", *, failing: bool = False) -> Path:
    """A finished run (summary.json and reports written by write_run_outputs) of scenario ``name``."""
    run_name = f"20261122-100000-{name}"
    written = Path(_WRITTEN.name) / ("failing" if failing else "passing") / run_name
    if not written.is_dir():
        verifiers = [FAILING_VERIFIER] if failing else None
        data = scenario_data(name=name, **({"verifiers": verifiers} if verifiers else {}))
        write_run_outputs(write_run_dir(written, data=data), RUN_READER)
    return Path(shutil.copytree(written, parent / run_name))


def make_suite(parent: Path, runs: list[Path], name: str = "monthly") -> Path:
    """A suite directory holding ``runs`` (made inside it) and the suite's own outputs."""
    write_suite_outputs(
        parent, [read_run(run, RUN_READER) for run in runs], SuiteHeading(name, "", "suite.yaml")
    )
    return parent


def earlier(run_dir: Path, history: Path, *, days_ago: float = 30, **changes: Any) -> Path:
    """A copy of ``run_dir``'s summary.json as an earlier run under ``history``, with ``changes`` applied."""
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    past = copy.deepcopy(summary)
    past["started_at"] = datetime.fromtimestamp(T0 - days_ago * DAY, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    past.update(changes)
    directory = history / f"{days_ago:g}-days-ago-{summary['scenario']}"
    directory.mkdir(parents=True)
    (directory / "summary.json").write_text(json.dumps(past), encoding="utf-8")
    return directory
