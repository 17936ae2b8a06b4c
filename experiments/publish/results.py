"""What is published about a finished run or suite: read back from its ``summary.json`` (the stable, documented
record of a result, reports/summary.py) and compared with the earlier runs of the same scenarios
(:mod:`mlchaos.reports.history`), so a webhook and a metric say exactly what the report and the trend section say.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from mlchaos.reports.history import History, PastRun, past_run, read_history, trend
from mlchaos.reports.run import SUMMARY_NAME

PASSED = "passed"


class _Summary(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class VerdictSummary(_Summary):
    verifier: str
    name: str
    passed: bool
    measured: float | None
    unit: str


class FaultSummary(_Summary):
    id: str
    kind: str
    mttd_s: float | None
    mttr_s: float | None


class RunSummary(_Summary):
    """The fields of a run's summary.json that are published."""

    scenario: str
    run_dir: str
    status: str
    exit_code: int
    message: str
    score: float | None
    started_at: str | None
    finished_at: str | None
    duration_s: float | None
    verdicts: list[VerdictSummary]
    faults: list[FaultSummary]


class SuiteSummary(_Summary):
    """The fields of a suite's summary.json that are published (its runs are read from their own)."""

    suite: str
    suite_dir: str
    status: str
    exit_code: int
    score: float | None
    started_at: str | None
    finished_at: str | None


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario's run, with what changed since its previous run."""

    run: RunSummary
    run_dir: Path
    previous_status: str | None
    """The status of the scenario's previous run in the history; ``None``: none found."""
    regressions: tuple[str, ...]
    """What got worse, in words (``score 100% → 80%``, ``passed → failed``); empty when nothing did."""
    last_success_at: float | None
    """When the most recent run of the scenario that passed started (this one or an earlier one), epoch seconds."""

    @property
    def passed(self) -> bool:
        return self.run.status == PASSED


@dataclass(frozen=True)
class Finished:
    """A run or a suite that ended: what a webhook tells and a Pushgateway receives."""

    kind: Literal["run", "suite"]
    name: str
    """The suite's name, or the scenario's for a run alone."""
    directory: Path
    status: str
    exit_code: int
    score: float | None
    started_at: str | None
    finished_at: str | None
    scenarios: tuple[ScenarioResult, ...]

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    @property
    def regressed(self) -> bool:
        return any(s.regressions for s in self.scenarios)

    @property
    def duration_s(self) -> float | None:
        start, end = epoch(self.started_at), epoch(self.finished_at)
        return None if start is None or end is None else end - start


def epoch(text: str | None) -> float | None:
    """Seconds since the epoch of a summary's ISO 8601 UTC time."""
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def finished_run(run_dir: Path, history: Path | None) -> Finished:
    """The run in ``run_dir`` (its summary.json must exist), compared with ``history``."""
    result = _scenario(run_dir, _history(history, [run_dir]))
    run = result.run
    return Finished(
        "run", run.scenario, run_dir, run.status, run.exit_code, run.score, run.started_at, run.finished_at,
        (result,),
    )  # fmt: skip


def finished_suite(suite_dir: Path, run_dirs: Sequence[Path], history: Path | None) -> Finished:
    """The suite in ``suite_dir`` (its summary.json must exist) and its runs, compared with ``history``."""
    suite = SuiteSummary.model_validate(json.loads(_read(suite_dir / SUMMARY_NAME)))
    past = _history(history, run_dirs)
    results = tuple(_scenario(run_dir, past) for run_dir in run_dirs if (run_dir / SUMMARY_NAME).is_file())
    return Finished(
        "suite", suite.suite, suite_dir, suite.status, suite.exit_code, suite.score, suite.started_at,
        suite.finished_at, results,
    )  # fmt: skip


def _history(directory: Path | None, exclude: Sequence[Path]) -> History | None:
    if directory is None or not directory.is_dir():
        return None
    return read_history(directory, exclude=exclude)


def _scenario(run_dir: Path, history: History | None) -> ScenarioResult:
    run = RunSummary.model_validate(json.loads(_read(run_dir / SUMMARY_NAME)))
    current = past_run(run_dir / SUMMARY_NAME)
    if history is None or current is None:
        return ScenarioResult(run, run_dir, None, (), epoch(run.started_at) if run.status == PASSED else None)
    change = trend(current, history)
    previous = change.previous
    regressions = list(change.regressions)
    if previous is not None and previous.status == PASSED and run.status != PASSED:
        regressions.insert(0, f"{PASSED} → {run.status}")
    return ScenarioResult(
        run, run_dir, None if previous is None else previous.status, tuple(regressions),
        _last_success(current, history),
    )  # fmt: skip


def _last_success(current: PastRun, history: History) -> float | None:
    if current.status == PASSED:
        return current.started_at
    # All earlier runs, not only the few the trend shows: a scenario failing for a year still has a last success.
    cutoff = current.started_at if current.started_at is not None else float("inf")
    passed = [
        r.started_at
        for r in history.runs
        if r.scenario == current.scenario
        and r.status == PASSED
        and r.started_at is not None
        and r.started_at < cutoff
    ]
    return max(passed, default=None)
