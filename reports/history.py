"""Trends: how this run compares with earlier ones of the same scenarios (``--history DIR``).

The monthly question is "are we getting better or worse?". Earlier runs are read from their ``summary.json``
(written at the end of every ``mlchaos run`` and ``mlchaos suite``), never re-judged: the numbers a team saw last
month are the numbers compared. A history folder may hold run directories and suite directories (whose runs are
one level further down), in any mix; files that are not a run summary this version can read are skipped and
counted, never fatal — a history folder collects years of artifacts.

Compared per scenario: the resilience score, MTTR per fault (by fault id) and p99 latency per phase. "Change since
last time" is this run against the most recent earlier run of the same scenario; a change counts as a regression
or an improvement only beyond a noise margin (:data:`RELATIVE_MARGIN`), so a 3 % wobble in p99 is not flagged.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mlchaos.reports import facts
from mlchaos.reports.run import SUMMARY_NAME, RunData, S

MAX_PAST_RUNS = 6
"""Earlier runs shown per scenario: half a year of monthly runs; older ones add rows, not insight."""
RELATIVE_MARGIN = 0.10
"""MTTR and p99 changes smaller than this share of the previous value are noise, not a trend."""
SCORE_MARGIN = 0.005
MAX_DEPTH = 3
"""How deep under ``--history`` summaries are looked for: DIR/run, DIR/suite/run, DIR/month/suite/run."""


class Change(enum.StrEnum):
    BETTER = "better"
    WORSE = "worse"
    SAME = "same"
    NEW = "new"
    """Nothing to compare with: no earlier value (first run, or a fault / phase that is new)."""


@dataclass(frozen=True)
class PastRun:
    """One run as its summary.json recorded it."""

    scenario: str
    run_dir: Path
    started_at: float | None
    status: str
    score: float | None
    mttr_s: dict[str, float | None]
    """By fault id; ``None``: the fault's MTTR was not measured (no verifier, or it never recovered)."""
    p99_ms: dict[str, float | None]
    """By phase name."""
    mttd_s: dict[str, float | None] = field(default_factory=dict)
    """By fault id, as ``mttr_s`` (the runs index shows it; trends do not compare it)."""
    message: str = ""
    """One line: why this status."""


@dataclass(frozen=True)
class History:
    runs: tuple[PastRun, ...]
    skipped: int
    """summary.json files that could not be read as a run (other versions, suites' own, damaged)."""
    directory: Path


def _epoch(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def past_run(path: Path) -> PastRun | None:
    """The run a summary.json describes, or ``None`` if it is not a run summary of schema version 1."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("schema_version") != 1 or document.get("kind", "run") != "run":
            return None
        return PastRun(
            scenario=str(document["scenario"]),
            run_dir=path.parent,
            started_at=_epoch(document.get("started_at")),
            status=str(document["status"]),
            score=_number(document.get("score")),
            mttr_s={str(f["id"]): _number(f.get("mttr_s")) for f in document.get("faults", [])},
            p99_ms={str(p["phase"]): _number(p.get("p99_ms")) for p in document.get("phases", [])},
            mttd_s={str(f["id"]): _number(f.get("mttd_s")) for f in document.get("faults", [])},
            message=str(document.get("message", "")),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def summary_paths(directory: Path) -> Iterable[Path]:
    """Every summary.json up to :data:`MAX_DEPTH` levels under ``directory``, shallowest first."""
    for depth in range(1, MAX_DEPTH + 1):
        yield from sorted(directory.glob("/".join(["*"] * depth) + "/" + SUMMARY_NAME))


def read_history(directory: Path, *, exclude: Sequence[Path] = ()) -> History:
    """Every earlier run under ``directory``; ``exclude`` names run directories that are not "earlier" (the
    runs being reported, which may well live in the history folder themselves)."""
    if not directory.is_dir():
        raise FileNotFoundError(f"--history {directory}: not a directory (expected a folder of earlier runs)")
    excluded = {p.resolve() for p in exclude}
    runs, skipped = [], 0
    for path in summary_paths(directory):
        if path.parent.resolve() in excluded:
            continue
        run = past_run(path)
        if run is None:
            skipped += not _is_suite_summary(path)
            continue
        runs.append(run)
    return History(tuple(runs), skipped, directory)


def _is_suite_summary(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("kind") == "suite"  # type: ignore[no-any-return]
    except (OSError, ValueError, AttributeError):
        return False


def current_run(run: RunData[S]) -> PastRun:
    """The run being reported, in the same shape as the earlier ones."""
    return PastRun(
        scenario=run.scenario.name,
        run_dir=run.run_dir,
        started_at=run.started_at,
        status=run.status.value,
        score=run.score,
        mttr_s={f.window.fault_id: None if f.mttr is None else f.mttr.measured for f in facts.faults(run)},
        p99_ms={p.phase: p.p99_ms for p in facts.phases(run)},
        mttd_s={f.window.fault_id: None if f.mttd is None else f.mttd.measured for f in facts.faults(run)},
        message=run.message,
    )


@dataclass(frozen=True)
class Delta:
    """One number now, the same number last time, and which way it moved."""

    now: float | None
    before: float | None
    change: Change


def _delta(
    now: float | None, before: float | None, *, higher_is_better: bool, absolute: float = 0.0
) -> Delta:
    if now is None or before is None:
        return Delta(
            now, before, Change.NEW if before is None else Change.WORSE if now is None else Change.SAME
        )
    margin = absolute or RELATIVE_MARGIN * abs(before)
    if abs(now - before) <= margin:
        return Delta(now, before, Change.SAME)
    improved = (now > before) == higher_is_better
    return Delta(now, before, Change.BETTER if improved else Change.WORSE)


@dataclass(frozen=True)
class ScenarioTrend:
    """One scenario now and in its earlier runs (oldest first), with the change since the last one."""

    scenario: str
    current: PastRun
    earlier: tuple[PastRun, ...]
    score: Delta
    mttr_s: dict[str, Delta]
    p99_ms: dict[str, Delta]

    @property
    def previous(self) -> PastRun | None:
        return self.earlier[-1] if self.earlier else None

    @property
    def regressions(self) -> list[str]:
        """What got worse since last time, in words, e.g. ``MTTR store-down 0.4 s → 2.1 s``."""
        worse = []
        if self.score.change == Change.WORSE:
            worse.append(f"score {_pct(self.score.before)} → {_pct(self.score.now)}")
        for fault, delta in self.mttr_s.items():
            if delta.change == Change.WORSE:
                worse.append(f"MTTR {fault} {_s(delta.before)} → {_s(delta.now)}")
        for phase, delta in self.p99_ms.items():
            if delta.change == Change.WORSE:
                worse.append(f"p99 {phase} {_ms(delta.before)} → {_ms(delta.now)}")
        return worse


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _s(value: float | None) -> str:
    return "not recovered" if value is None else f"{value:.2f} s"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def trend(current: PastRun, history: History) -> ScenarioTrend:
    """``current`` against the earlier runs of its scenario in ``history`` (those that started before it)."""
    cutoff = current.started_at if current.started_at is not None else float("inf")
    earlier = sorted(
        (
            r
            for r in history.runs
            if r.scenario == current.scenario and r.started_at is not None and r.started_at < cutoff
        ),
        key=lambda r: r.started_at or 0.0,
    )[-MAX_PAST_RUNS:]
    last = earlier[-1] if earlier else None
    return ScenarioTrend(
        scenario=current.scenario,
        current=current,
        earlier=tuple(earlier),
        score=_delta(
            current.score, last.score if last else None, higher_is_better=True, absolute=SCORE_MARGIN
        ),
        mttr_s={
            fault: _delta(now, last.mttr_s.get(fault) if last else None, higher_is_better=False)
            for fault, now in current.mttr_s.items()
        },
        p99_ms={
            phase: _delta(now, last.p99_ms.get(phase) if last else None, higher_is_better=False)
            for phase, now in current.p99_ms.items()
        },
    )


def trends(runs: Sequence[RunData[S]], history: History) -> list[ScenarioTrend]:
    return [trend(current_run(run), history) for run in runs]
