"""Runs whose recording is not all judged: a warm-up before the baseline (shown, never judged) and a run stopped by
a guardrail or a signal (judged on what it recorded up to the stop, and marked partial everywhere)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from run_dirs import T0, requests, scenario_data, write_run_dir

from mlchaos.experiments.journal import Entry, Event, partial_stop
from mlchaos.experiments.outcome import VERDICTS_NAME, write_verdicts
from mlchaos.experiments.records import RequestRecord
from mlchaos.experiments.scenario import Scenario
from mlchaos.reports import RunReader, RunStatus, write_run_outputs
from mlchaos.reports.html import overview

SCHEMA = xmlschema.XMLSchema(Path(__file__).with_name("junit.xsd"))
STORE = {"fault_id": "store-down", "kind": "feature_store_outage"}


def entries(*events: tuple[float, Event, dict[str, Any]]) -> list[Entry]:
    return [Entry(seq=i, ts=T0 + at, event=e, **fields) for i, (at, e, fields) in enumerate(events, 1)]


def through_the_fault(*, stop: tuple[float, Event, str] | None = None) -> list[Entry]:
    """Baseline at 0 s, the fault from 10 s to 20 s; stopped at ``stop`` (time, event, detail), or run to 40 s."""
    events: list[tuple[float, Event, dict[str, Any]]] = [
        (-1.5, Event.RUN_STARTED, {}),
        (0.0, Event.PHASE, {"phase": "baseline"}),
        (10.0, Event.PHASE, {"phase": "fault"}),
        (10.0, Event.INJECT_INTENT, {**STORE, "undo": {}}),
        (10.01, Event.INJECTED, STORE),
    ]
    if stop is None:
        events += [
            (20.0, Event.PHASE, {"phase": "recovery"}),
            (20.01, Event.REVERTED, STORE),
            (30.0, Event.PHASE, {"phase": "after"}),
            (40.0, Event.PHASE, {"phase": "end"}),
        ]
    else:
        at, event, detail = stop
        events += [
            (at, event, {"detail": detail}),
            (at + 0.01, Event.ABORTED, {"detail": detail}),
            (at + 0.5, Event.REVERTED, STORE),
        ]
    return entries(*events, (40.2, Event.RUN_FINISHED, {"detail": "rollback ok"}))


def judged_requests(run_verdicts: list[Any]) -> float:
    [availability] = [v for v in run_verdicts if v.verifier == "availability"]
    return float(availability.details["requests"])


# --- warm-up


def test_the_warmup_is_shown_on_the_timeline_and_never_judged(
    tmp_path: Path, reader: RunReader[Scenario]
) -> None:
    # A cold service: every answer of the 5 s warm-up is a 503. The baseline starts at 0 s, as without one.
    cold = [RequestRecord(T0 - 5 + i * 0.02, 900.0, 503, error="HTTP 503: warming up") for i in range(250)]
    data = scenario_data(load={"users": 4, "body": {"amount": 1}, "warmup": "5s"})
    journal = through_the_fault()
    journal.insert(1, Entry(seq=0, ts=T0 - 5, event=Event.PHASE, phase="warmup"))
    run_dir = write_run_dir(tmp_path / "run", data=data, records=cold + requests(), entries=journal)

    run = write_run_outputs(run_dir, reader)
    assert run.status == RunStatus.PASSED, (
        run.message
    )  # availability ≥ 95 % over the run: the 503s are not in it
    assert run.recording.started_at == T0  # the run's zero is the baseline's start
    assert (
        judged_requests(run.verdicts) == 2000
    )  # from 0 s to 40 s: neither the warm-up nor the ramp before 0 s
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "warm-up (not judged)" in page  # the chart's phase band
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["requests"]["total"] == 2300  # recorded: shown, if not judged
    warmup = summary["phases"][0]  # the cold 503s, then the load's first second (before 0 s) of answers
    assert warmup["phase"] == "warmup" and warmup["requests"] == 300
    assert warmup["available"] == pytest.approx(50 / 300)


# --- partial verdicts


def test_a_run_stopped_by_a_guardrail_is_judged_on_what_it_recorded_up_to_the_stop(
    tmp_path: Path, reader: RunReader[Scenario]
) -> None:
    detail = "guardrail tripped: error_rate > 50% for 2s (now 0.9)"
    journal = through_the_fault(stop=(15.0, Event.GUARDRAIL_TRIPPED, detail))
    run_dir = write_run_dir(tmp_path / "run", entries=journal)
    run = write_run_outputs(run_dir, reader)

    assert run.status == RunStatus.ABORTED and run.status.exit_code == 3
    assert run.partial is not None and run.partial.reason == detail and run.partial.at == T0 + 15
    assert run.partial.by == "guardrail error_rate > 50% for 2s (now 0.9)"
    assert run.verdicts, "judged, partially"
    assert judged_requests(run.verdicts) == 750  # 0–15 s at 50 Hz: not what the load sent while rolling back
    after = run.verdicts[-1]
    assert after.name == "steady_state (after)" and not after.passed  # the after phase was never reached
    assert "verdicts are partial" in run.message

    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert '<section class="banner aborted"' in page
    assert "partial: stopped by guardrail error_rate &gt; 50% for 2s (now 0.9) at 2026-" in page
    assert ">PARTIAL</span>" in page and page.count('<div class="partial-mark">partial</div>') == len(
        run.verdicts
    )

    junit = run_dir / "junit.xml"
    SCHEMA.validate(junit)
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["partial"] == "true"
    assert properties["stopped"].startswith("by guardrail error_rate > 50% for 2s (now 0.9) at 2026-")
    assert properties["exit_code"] == "3"
    failures = [c.find("failure") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert failures and all(f.get("message", "").startswith("partial: ") for f in failures)
    [error] = [c.find("error") for c in suite.findall("testcase") if c.get("name") == "run"]
    assert error is not None and "verdicts are partial" in error.get("message", "")

    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["partial"] is True and summary["stopped"]["reason"] == detail
    assert summary["status"] == "aborted" and summary["exit_code"] == 3 and summary["passed"] is False
    assert len(summary["verdicts"]) == len(run.verdicts) and summary["score"] is not None
    assert overview([run]).score == 0.0, (
        "in a suite's score a run stopped early counts 0, as every aborted run"
    )


def test_a_signal_before_the_baseline_or_an_ordinary_abort_judges_nothing(
    tmp_path: Path, reader: RunReader[Scenario]
) -> None:
    early = entries(
        (-1.5, Event.RUN_STARTED, {}),
        (-1.0, Event.PHASE, {"phase": "warmup"}),
        (-0.5, Event.INTERRUPTED, {"detail": "interrupted by SIGTERM"}),
        (-0.49, Event.ABORTED, {"detail": "interrupted by SIGTERM"}),
        (0.2, Event.RUN_FINISHED, {"detail": "rollback ok"}),
    )
    assert partial_stop(early) is None
    run = write_run_outputs(write_run_dir(tmp_path / "early", entries=early), reader)
    assert run.status == RunStatus.ABORTED and run.verdicts == [] and run.partial is None

    broken = through_the_fault(stop=(15.0, Event.INJECT_FAILED, "could not inject"))
    assert partial_stop(broken) is None
    run = write_run_outputs(write_run_dir(tmp_path / "broken", entries=broken), reader)
    assert run.status == RunStatus.ABORTED and run.verdicts == []


def test_partial_verdicts_never_pass_in_verdicts_json(tmp_path: Path, reader: RunReader[Scenario]) -> None:
    journal = through_the_fault(stop=(25.0, Event.INTERRUPTED, "interrupted by SIGINT"))
    run_dir = write_run_dir(tmp_path / "run", entries=journal)
    run = write_run_outputs(run_dir, reader)
    held = [v for v in run.verdicts if v.passed]
    stop = partial_stop(run.entries)
    assert stop is not None
    write_verdicts(run_dir, Scenario.model_validate(scenario_data()), held, stop=stop)
    document = json.loads((run_dir / VERDICTS_NAME).read_text(encoding="utf-8"))
    assert document["partial"] is True and document["passed"] is False and document["score"] == 1.0
    assert document["stopped"]["reason"] == "interrupted by SIGINT" and document["stopped"]["by"] == "SIGINT"
    assert document["stopped"]["at"].startswith("2026-") and document["stopped"]["at"].endswith("Z")
