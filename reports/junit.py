"""``junit.xml``: the run's verdicts as JUnit XML, so any CI shows failed verifiers as failed tests.

Shape (valid against both the Ant JUnit schema and Jenkins' ``junit-10.xsd``; tests/reports check it)::

    <testsuites name="mlchaos" tests failures errors time>
      <testsuite name=SCENARIO package="mlchaos" id=N timestamp hostname tests failures errors skipped time>
        <properties> status, exit_code, resilience_score, run_dir, message, partial[, stopped] </properties>
        <testcase name=VERIFIER classname="mlchaos.SCENARIO" time="0">          (one per verifier)
          <failure type=VERIFIER message="measured … vs target …: explanation">explanation, where to look
                   (the advice of the way it failed), the way, the error budget burned, details</failure>
        </testcase>
        <testcase name="run" …><error type=STATUS message=…/></testcase>   (only when the run did not finish)
        <system-out>the run's message</system-out><system-err/>
      </testsuite>
    </testsuites>

A run that aborted, failed its rollback or never started has no verdicts; it is reported as one errored test
``run``, so CI cannot mistake "nothing was judged" for "nothing failed". A run stopped by a guardrail or a signal
after its baseline began has partial verdicts: its testcases are there, each failure message starting with
``partial:``, beside the errored ``run``; the properties ``partial`` (``true``) and ``stopped`` (why and when)
mark it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from mlchaos.experiments.verifiers.base import Verdict
from mlchaos.reports.html import burned_text, number
from mlchaos.reports.run import SCENARIO_NAME, Environment, RunData, RunStatus, S

JUNIT_NAME = "junit.xml"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot carry at all, escaped or not (a response error may contain anything)."""


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def failure_message(verdict: Verdict) -> str:
    """What CI shows for a failed verifier: the number, the bar it missed, and why."""
    return (
        f"measured {number(verdict.measured, verdict.unit)} vs target {verdict.target}: {verdict.explanation}"
    )


def advice_lines(verdict: Verdict) -> list[str]:
    """Where to look, for the failure's text: the advice and the way it failed (and its error budget burned)."""
    advice = verdict.advice
    if advice is None:
        return []
    generic = " (generic)" if advice.generic else ""
    return [
        f"where to look{generic}: {advice.text}",
        f"way: {advice.way}",
        f"error budget: {burned_text(verdict.budget)}",
    ]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _timestamp(run: RunData[S]) -> str:
    """When the run started, ISO 8601 without a zone (the Ant schema's form), UTC."""
    ts = run.started_at
    if ts is None:
        path = run.run_dir / SCENARIO_NAME
        ts = path.stat().st_mtime if path.exists() else datetime.now(tz=UTC).timestamp()
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _suite(run: RunData[S], index: int, host: str) -> tuple[ET.Element, int, int, int, float]:
    name = run.scenario.name
    duration = 0.0 if run.started_at is None or run.finished_at is None else run.finished_at - run.started_at
    failures = sum(not v.passed for v in run.verdicts)
    errors = 0 if run.status in (RunStatus.PASSED, RunStatus.FAILED) else 1
    tests = len(run.verdicts) + errors
    suite = ET.Element(
        "testsuite",
        {
            "name": _text(name),
            "package": "mlchaos",
            "id": str(index),
            "timestamp": _timestamp(run),
            "hostname": _text(host) or "localhost",
            "tests": str(tests),
            "failures": str(failures),
            "errors": str(errors),
            "skipped": "0",
            "time": f"{duration:.3f}",
        },
    )
    properties = ET.SubElement(suite, "properties")
    score = run.score
    stop = run.partial
    stopped = [] if stop is None else [("stopped", f"by {run.redact(stop.by)} at {_iso(stop.at)}")]
    for key, value in (
        ("status", run.status.value),
        ("exit_code", str(run.status.exit_code)),
        ("resilience_score", "" if score is None else f"{score:.4f}"),
        ("run_dir", str(run.run_dir)),
        ("message", run.message),
        ("partial", "true" if stop is not None else "false"),
        *stopped,
    ):
        ET.SubElement(properties, "property", {"name": key, "value": _text(value)})
    classname = _text(f"mlchaos.{name}")
    for verdict in run.verdicts:
        case = ET.SubElement(
            suite, "testcase", {"name": _text(verdict.name), "classname": classname, "time": "0"}
        )
        if not verdict.passed:
            message = ("partial: " if stop is not None else "") + failure_message(verdict)
            failure = ET.SubElement(case, "failure", {"type": verdict.verifier, "message": _text(message)})
            lines = [
                verdict.explanation,
                *advice_lines(verdict),
                *(f"{k}: {v}" for k, v in verdict.details.items()),
            ]
            failure.text = _text("\n".join(lines))
    if errors:
        case = ET.SubElement(
            suite, "testcase", {"name": "run", "classname": classname, "time": f"{duration:.3f}"}
        )
        ET.SubElement(case, "error", {"type": run.status.value, "message": _text(run.message)})
    ET.SubElement(suite, "system-out").text = _text(run.message)
    ET.SubElement(suite, "system-err")
    return suite, tests, failures, errors, duration


def junit_xml(runs: Sequence[RunData[S]], *, recorded_by: Environment | None = None) -> str:
    """One ``<testsuite>`` per run (per scenario), one ``<testcase>`` per verifier."""
    root = ET.Element("testsuites", {"name": "mlchaos"})
    totals = [0, 0, 0]
    time = 0.0
    for index, run in enumerate(runs):
        env = run.recorded_by or recorded_by or Environment.current()
        suite, tests, failures, errors, duration = _suite(run, index, env.host)
        root.append(suite)
        totals = [totals[0] + tests, totals[1] + failures, totals[2] + errors]
        time += duration
    root.attrib.update(
        {"tests": str(totals[0]), "failures": str(totals[1]), "errors": str(totals[2]), "time": f"{time:.3f}"}
    )
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: Path, runs: Sequence[RunData[S]], *, recorded_by: Environment | None = None) -> Path:
    path.write_text(junit_xml(runs, recorded_by=recorded_by), encoding="utf-8")
    return path
