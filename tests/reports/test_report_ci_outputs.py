"""junit.xml and summary.json: valid against the JUnit schema, stable in shape, and right about how runs ended."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from run_dirs import T0, journal, scenario_data, write_run_dir

from mlchaos.experiments.journal import Entry, Event
from mlchaos.experiments.scenario import Scenario
from mlchaos.reports import RunReader, RunStatus, write_run_outputs
from mlchaos.reports.junit import failure_message
from mlchaos.reports.summary import SCHEMA_VERSION

SCHEMA = xmlschema.XMLSchema(Path(__file__).with_name("junit.xsd"))
STRICT = scenario_data(
    verifiers=[
        {"type": "latency", "phase": "fault", "max_ms": 10},
        {"type": "mttr", "fault": "store-down", "max": 0.1},
        {"type": "availability", "min": 0.9},
    ]
)
PREFLIGHT = [
    Entry(seq=1, ts=T0, event=Event.RUN_STARTED),
    Entry(seq=2, ts=T0 + 1, event=Event.ABORTED, detail="preflight: the target is not ready"),
]
ENDINGS = {
    "passed": ({}, RunStatus.PASSED),
    "failed": ({"data": STRICT}, RunStatus.FAILED),
    "aborted": ({"entries": journal(aborted="interrupted by SIGINT")}, RunStatus.ABORTED),
    "rollback_failed": ({"entries": journal(revert=False)}, RunStatus.ROLLBACK_FAILED),
    "killed": ({"entries": journal(finished=False)}, RunStatus.ABORTED),
    "preflight": ({"entries": PREFLIGHT}, RunStatus.INVALID),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_junit_is_valid_and_counts_what_happened(
    tmp_path: Path, reader: RunReader[Scenario], ending: str
) -> None:
    kwargs, status = ENDINGS[ending]
    run = write_run_outputs(write_run_dir(tmp_path / "run", **kwargs), reader)  # type: ignore[arg-type]
    assert run.status == status, run.message
    junit = tmp_path / "run" / "junit.xml"
    SCHEMA.validate(junit)  # raises with the offending element and rule
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("name") == run.scenario.name
    cases = suite.findall("testcase")
    finished = status in (RunStatus.PASSED, RunStatus.FAILED)
    assert len(cases) == (len(run.verdicts) if finished else 1)
    assert int(suite.get("failures", "-1")) == sum(not v.passed for v in run.verdicts)
    assert int(suite.get("errors", "-1")) == (0 if finished else 1)
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["status"] == status.value and properties["exit_code"] == str(status.exit_code)


def test_a_failed_verifier_is_a_failure_with_measured_vs_target_and_why(
    tmp_path: Path, reader: RunReader[Scenario]
) -> None:
    run = write_run_outputs(write_run_dir(tmp_path / "run", data=STRICT), reader)
    failed = {v.name: v for v in run.verdicts if not v.passed}
    root = ET.parse(tmp_path / "run" / "junit.xml").getroot()
    failures = {
        case.get("name"): case.find("failure")
        for case in root.iter("testcase")
        if case.find("failure") is not None
    }
    assert set(failures) == set(failed) and "latency p99 (fault)" in failures
    element = failures["latency p99 (fault)"]
    assert element is not None
    message = element.get("message", "")
    assert message == failure_message(failed["latency p99 (fault)"])
    assert message.startswith("measured 120 ms vs target ≤ 10 ms: p99 of")


def test_control_characters_in_errors_still_make_valid_xml(
    tmp_path: Path, reader: RunReader[Scenario]
) -> None:
    entries = journal(aborted="load child said \x1b[31mboom\x00")
    write_run_outputs(write_run_dir(tmp_path / "run", entries=entries), reader)
    SCHEMA.validate(tmp_path / "run" / "junit.xml")


def test_summary_has_the_documented_shape(run_dir: Path, reader: RunReader[Scenario]) -> None:
    run = write_run_outputs(run_dir, reader)
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["schema_version"] == SCHEMA_VERSION == 1
    assert set(summary) == {
        "schema_version", "kind", "scenario", "description", "run_dir", "status", "exit_code", "message",
        "passed", "score", "partial", "stopped", "verifiers", "started_at", "finished_at", "duration_s", "target",
        "requests",
        "verdicts", "faults", "phases", "error_budget", "recorded_by",
    }  # fmt: skip
    assert summary["kind"] == "run"
    assert [p["phase"] for p in summary["phases"]] == ["baseline", "fault", "recovery", "after"]
    fault_phase = summary["phases"][1]
    assert fault_phase["requests"] == 500 and fault_phase["p99_ms"] > 0 and fault_phase["available"] < 1.0
    assert summary["status"] == "passed" and summary["exit_code"] == 0 and summary["passed"] is True
    assert summary["score"] == 1.0 and summary["verifiers"] == {"total": 8, "held": 8, "failed": 0}
    assert summary["run_dir"] == run_dir.name and summary["started_at"].endswith("Z")
    assert summary["duration_s"] == pytest.approx(41.7, abs=0.01)
    (fault,) = summary["faults"]
    mttd = next(v for v in run.verdicts if v.verifier == "mttd")
    assert fault["id"] == "store-down" and fault["mttd_s"] == mttd.measured and fault["mttr_s"] is not None
    assert fault["reverted_at"].endswith("Z") and fault["heals_itself"] is False
    (budget,) = summary["error_budget"]
    # Judged from the baseline's start: the load's first second before it (50 requests) is recorded, not judged.
    assert budget["bad"] == 15 and budget["requests"] == 2000 and budget["passed"] is True
    assert summary["requests"]["total"] == 2050 and set(summary["requests"]["tiers"]) == {
        "primary",
        "fallback",
    }
    assert set(summary["recorded_by"]) == {"mlchaos", "python", "host", "platform", "user"}


def test_an_aborted_run_has_no_score(tmp_path: Path, reader: RunReader[Scenario]) -> None:
    write_run_outputs(write_run_dir(tmp_path / "run", entries=journal(aborted="SIGTERM")), reader)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "aborted" and summary["exit_code"] == 3
    assert (
        summary["score"] is None
        and summary["verdicts"] == []
        and summary["message"].startswith("aborted: SIGTERM")
    )
