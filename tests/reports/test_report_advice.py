"""Advice on what to fix, where people read results: beside each failed verdict in report.html, in junit.xml's
failure text, in summary.json and on the console; a suite's failures ranked by the error budget they burned."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console
from run_dirs import scenario_data, write_run_dir

from mlchaos.experiments.errors import ExitCode
from mlchaos.experiments.run_outcome import RunOutcome
from mlchaos.experiments.run_reader import RUN_READER
from mlchaos.experiments.run_view import print_result, summary
from mlchaos.experiments.scenario import Scenario
from mlchaos.reports import RunData, write_run_outputs
from mlchaos.reports.html import SuiteHeading
from mlchaos.reports.outputs import write_suite_outputs

# The fault window holds a burst of errors (run_dirs): its latency fails and burns budget there; the OOD verdict
# has nothing to judge and no window (no SLO measure), so it ranks last whatever its weight.
SLOW = scenario_data(
    name="slow",
    verifiers=[
        {"type": "latency", "phase": "fault", "max_ms": 10},
        {"type": "availability", "phase": "baseline", "min": 0.5},
    ],
)
BLIND = scenario_data(
    name="blind",
    verifiers=[
        {"type": "ood_routing", "weight": 5},
        {"type": "mttr", "fault": "store-down", "max": 0.1},
    ],
)


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[RunData[Scenario]]]:
    """One suite of two failing runs, written once for the module's tests (they only read it)."""
    suite_dir = tmp_path_factory.mktemp("advice") / "suite"
    runs = [
        write_run_outputs(write_run_dir(suite_dir / name, data=data), RUN_READER)
        for name, data in (("1-slow", SLOW), ("2-blind", BLIND))
    ]
    write_suite_outputs(suite_dir, runs, SuiteHeading("monthly", "", "suite.yaml"))
    return suite_dir, runs


def _burn(failure: dict[str, object]) -> float:
    budget = failure["budget"]
    if budget is None:
        return -1.0  # ranks after every measure
    assert isinstance(budget, dict)
    return math.inf if budget["burned"] is None else float(budget["burned"])


def test_a_suite_ranks_its_failures_by_error_budget_burned_everywhere(
    suite: tuple[Path, list[RunData[Scenario]]],
) -> None:
    suite_dir, runs = suite
    document = json.loads((suite_dir / "summary.json").read_text(encoding="utf-8"))
    failures = document["failures"]
    failed = [(run.scenario.name, v.name) for run in runs for v in run.verdicts if not v.passed]
    assert sorted((f["scenario"], f["name"]) for f in failures) == sorted(failed)
    burns = [_burn(f) for f in failures]
    assert burns == sorted(burns, reverse=True) and burns[0] > 0
    assert failures[-1]["name"] == "ood_routing (all)" and failures[-1]["budget"] is None
    latency = next(f for f in failures if f["name"] == "latency p99 (fault)")
    # Its window is the fault phase: the burst of errors there, against the steady state's 99 %.
    assert latency["budget"]["slo"] == 0.99 and latency["budget"]["bad"] > 0
    assert latency["budget"]["burned"] == latency["budget"]["bad"] / latency["budget"]["allowed"]
    assert all(f["advice"]["text"] and not f["advice"]["generic"] for f in failures)
    assert failures[0]["run_dir"] in ("1-slow", "2-blind")

    html = (suite_dir / "report.html").read_text(encoding="utf-8")
    ranked_card = html.split('id="failures-ranked"', 1)[1].split("</section>", 1)[0]
    shown = re.findall(r'<td class="name">([^<]+)</td>', ranked_card)
    assert shown == [f["name"] for f in failures]  # the same order as summary.json
    assert "What to fix first" in html and "of the budget" in ranked_card


def test_each_failed_verdict_shows_where_to_look_in_the_report_and_junit(
    suite: tuple[Path, list[RunData[Scenario]]],
) -> None:
    suite_dir, runs = suite
    run_dir = suite_dir / "1-slow"
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    failed = [v for v in runs[0].verdicts if not v.passed]
    assert failed and html.count('<p class="advice"') == len(failed)
    latency = next(v for v in failed if v.verifier == "latency")
    assert latency.advice is not None and f'data-way="{latency.advice.way}"' in html
    root = ET.parse(run_dir / "junit.xml").getroot()
    texts = {case.get("name"): case.findtext("failure") for case in root.iter("testcase")}
    text = texts["latency p99 (fault)"] or ""
    assert f"where to look: {latency.advice.text}" in text and f"way: {latency.advice.way}" in text
    assert "error budget:" in text and "of the budget" in text
    assert all(texts[v.name] and "where to look" in (texts[v.name] or "") for v in failed)
    summary_doc = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert all(v["advice"] is None for v in summary_doc["verdicts"] if v["passed"])
    assert all(v["advice"]["way"] for v in summary_doc["verdicts"] if not v["passed"])


def test_the_console_prints_where_to_look_and_ranks_a_suites_failures(
    suite: tuple[Path, list[RunData[Scenario]]],
) -> None:
    _, runs = suite
    outcomes = [
        RunOutcome(run.run_dir, run.scenario.name, ExitCode.VERIFIER_FAILED, run.verdicts, run.message)
        for run in runs
    ]
    console = Console(record=True, width=400)
    print_result(console, "slow", outcomes[0])
    console.print(summary(outcomes))
    text = console.export_text()
    latency = next(v for v in runs[0].verdicts if v.verifier == "latency")
    assert latency.advice is not None
    assert f"✗ latency p99 (fault) — where to look: {latency.advice.text}" in text
    ranked = text.split("What to fix first", 1)[1]
    order = [ranked.index(name) for name in ("latency p99 (fault)", "ood_routing (all)")]
    assert order == sorted(order)
