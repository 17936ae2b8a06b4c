"""Trends (``--history``): a run compared with earlier runs of the same scenario, read from their summary.json."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from run_dirs import T0, write_run_dir

from mlchaos.experiments.scenario import Scenario
from mlchaos.reports import RunReader, write_report, write_run_outputs
from mlchaos.reports.history import Change, current_run, read_history, trend, trends
from mlchaos.reports.run import read_run

DAY = 86_400.0


def _iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _past(summary: dict[str, Any], directory: Path, *, days_ago: float, **changes: Any) -> Path:
    """An earlier run's directory holding only its summary.json: what history reads, nothing else."""
    past = copy.deepcopy(summary)
    past["started_at"] = _iso(T0 - days_ago * DAY)
    for key, value in changes.items():
        if key == "mttr_s":
            past["faults"][0]["mttr_s"] = value
        elif key == "p99":
            for phase in past["phases"]:
                phase["p99_ms"] = value.get(phase["phase"], phase["p99_ms"])
        else:
            past[key] = value
    directory.mkdir(parents=True)
    (directory / "summary.json").write_text(json.dumps(past), encoding="utf-8")
    return directory


@pytest.fixture
def current(tmp_path: Path, reader: RunReader[Scenario]) -> tuple[Path, dict[str, Any]]:
    run_dir = write_run_dir(tmp_path / "runs" / "20261122-100000-synthetic-outage")
    write_run_outputs(run_dir, reader)
    return run_dir, json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))


def test_the_change_since_the_last_run_is_judged_per_score_mttr_and_p99(
    tmp_path: Path, reader: RunReader[Scenario], current: tuple[Path, dict[str, Any]]
) -> None:
    run_dir, summary = current
    mttr_now = summary["faults"][0]["mttr_s"]
    p99_now = {p["phase"]: p["p99_ms"] for p in summary["phases"]}
    history = tmp_path / "history"
    # Two months ago: worse everywhere; last month: a faster recovery and a much lower fault-phase p99, the
    # same baseline p99 give or take 5 % (noise, not a trend), and a lower score.
    _past(summary, history / "sep", days_ago=60, score=0.5, mttr_s=mttr_now + 5)
    _past(
        summary,
        history / "oct",
        days_ago=30,
        score=0.75,
        mttr_s=mttr_now / 4,
        p99={"fault": p99_now["fault"] / 3, "baseline": p99_now["baseline"] * 1.05},
    )
    found = read_history(history, exclude=[run_dir])
    (result,) = trends([read_run(run_dir, reader)], found)

    assert [r.run_dir.name for r in result.earlier] == ["sep", "oct"]  # oldest first
    assert result.score.change == Change.BETTER and result.score.before == 0.75
    assert result.mttr_s["store-down"].change == Change.WORSE
    assert result.p99_ms["fault"].change == Change.WORSE
    assert result.p99_ms["baseline"].change == Change.SAME
    assert result.regressions == [
        f"MTTR store-down {mttr_now / 4:.2f} s → {mttr_now:.2f} s",
        f"p99 fault {p99_now['fault'] / 3:,.0f} ms → {p99_now['fault']:,.0f} ms",
    ]


def test_only_earlier_runs_of_the_same_scenario_count(
    tmp_path: Path, reader: RunReader[Scenario], current: tuple[Path, dict[str, Any]]
) -> None:
    run_dir, summary = current
    history = tmp_path / "history"
    _past(summary, history / "other", days_ago=10, scenario="another-scenario", score=0.0)
    _past(summary, history / "later", days_ago=-10, score=0.0)  # started after the run being reported
    _past(summary, history / "suite" / "inside-a-suite", days_ago=20, score=0.9)
    (history / "suite" / "summary.json").write_text(json.dumps({"schema_version": 1, "kind": "suite"}))
    (history / "broken").mkdir()
    (history / "broken" / "summary.json").write_text("{not json")
    (history / "future").mkdir()
    (history / "future" / "summary.json").write_text(json.dumps({"schema_version": 2, "kind": "run"}))

    found = read_history(history, exclude=[run_dir])
    assert found.skipped == 2  # the damaged file and the newer schema; a suite's own summary is not a run
    result = trend(current_run(read_run(run_dir, reader)), found)
    assert [r.run_dir.name for r in result.earlier] == ["inside-a-suite"]
    assert result.score.before == 0.9


def test_the_run_being_reported_is_not_its_own_history(
    tmp_path: Path, reader: RunReader[Scenario], current: tuple[Path, dict[str, Any]]
) -> None:
    run_dir, _ = current
    # The usual set-up: --history is the folder the runs land in, this run included.
    report = write_report([run_dir], reader, tmp_path / "report.html", history=run_dir.parent)
    html = report.read_text(encoding="utf-8")
    assert "Since last time" in html and "this run is the first point of its trend" in html
    assert "Nothing got worse since the last run" in html


def test_the_report_highlights_regressions(
    tmp_path: Path, reader: RunReader[Scenario], current: tuple[Path, dict[str, Any]]
) -> None:
    run_dir, summary = current
    history = tmp_path / "history"
    _past(summary, history / "20261022-100000-synthetic-outage", days_ago=30, mttr_s=0.01, score=1.0)
    report = write_report([run_dir], reader, tmp_path / "report.html", history=history)
    html = report.read_text(encoding="utf-8")
    assert '<span class="worse">worse</span> synthetic-outage: MTTR store-down 0.01 s' in html
    assert "20261022-100000-synthetic-outage" in html  # the earlier run is a row of the trend table
    assert "was 0.01 s" in html


def test_history_must_be_a_folder(tmp_path: Path, current: tuple[Path, dict[str, Any]]) -> None:
    with pytest.raises(FileNotFoundError, match="not a directory"):
        read_history(tmp_path / "nope")


def test_runs_without_a_baseline_or_phases_compare_without_crashing(
    tmp_path: Path, reader: RunReader[Scenario]
) -> None:
    """A run that never started has no phases and no MTTR: its trend says so instead of failing."""
    run_dir = write_run_dir(tmp_path / "runs" / "aborted", entries=[])
    write_run_outputs(run_dir, reader)
    history = tmp_path / "runs"
    found = read_history(history, exclude=[run_dir])
    (result,) = trends([read_run(run_dir, reader)], found)
    assert result.earlier == () and result.p99_ms == {} and result.score.change == Change.NEW
