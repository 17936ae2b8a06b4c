"""mlchaos on another team's service: riskd (tests/riskd) shares none of the reference stack's conventions — other
paths, a nested answer read through list indices, the tier only in a header, other tier names, breaker gauges whose
value is the state, transition counters with upper-case labels, other request fields with categories, a lenient
input contract. Declared in one target file (target.template.yaml), it runs every fault type of the catalogue
(tests/own_service/scenarios): the healthy service passes every scenario three suites in a row, each planted
defect fails the scenario meant to catch it naming the verifier, and breakers are judged through a real Prometheus
as well as from riskd's own /metrics.

Scenarios are short test-sized runs (2 s warm-up, 3 s windows, 5 s faults): CI time is a budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from riskd.stack import RiskdEndpoints, RiskdStack
from support.cli_runs import run_mlchaos
from support.prometheus_server import run_prometheus
from workspace import failed, scenario_verdicts, suite_verdicts, workspace

pytestmark = pytest.mark.stack

SCENARIO_NAMES = {
    "riskd-profiles-outage",
    "riskd-profiles-latency",
    "riskd-scorer-kill",
    "riskd-traffic-spike",
    "riskd-bad-inputs",
    "riskd-adversarial",
    "riskd-distribution-shift",
}


@pytest.fixture(scope="module")
def healthy() -> Iterator[RiskdEndpoints]:
    with RiskdStack() as stack:
        yield stack.endpoints


def promql_signals(prometheus_url: str) -> dict[str, str]:
    """Target-template lines (old -> new) that read riskd's breaker signals by PromQL from a Prometheus."""
    return {
        "signals:\n": f"signals:\n  prometheus_url: {prometheus_url}\n",
        "    - metric: riskd_upstream_circuit\n": "    - query: riskd_upstream_circuit\n",
        "    - metric: riskd_circuit_changes\n": "    - query: riskd_circuit_changes_total\n",
    }


def passing_suite(folder: Path, out: Path, attempt: int) -> Path:
    """Runs the suite in ``folder``; its directory, once every scenario of it has passed."""
    result = run_mlchaos(
        "suite", "--out", str(out), "--no-history", str(folder / "suite.yaml"), timeout_s=480
    )
    [suite_dir] = [d for d in out.iterdir() if d.is_dir()]  # and OUT/index.html
    found = suite_verdicts(suite_dir)
    problems = {name: failed(verdicts) for name, verdicts in found.items() if failed(verdicts)}
    assert result.returncode == 0, f"suite {attempt}: {problems}\n{result.stdout}{result.stderr}"
    assert set(found) == SCENARIO_NAMES
    # What the verdicts read is riskd's own: its tier names, its breaker metric, its answer fields.
    breaker = next(v for v in found["riskd-profiles-outage"] if v["verifier"] == "breaker")
    assert breaker["passed"] and breaker["measured"] is not None, breaker
    engaged = next(v for v in found["riskd-profiles-outage"] if v["verifier"] == "fallback_engaged")
    assert "silver" in str(engaged["explanation"]), engaged
    return suite_dir


@pytest.mark.timeout(1500)  # three suites of seven short scenarios; the bound only stops a hang
def test_the_healthy_service_passes_every_scenario_three_suites_in_a_row(
    healthy: RiskdEndpoints, tmp_path: Path
) -> None:
    """The first suite covers riskd's cold start with the scenarios' warm-up; the next two find it warm and run
    them without (nothing judges a warm-up: the same runs, sooner). The third reads riskd's breaker signals by
    PromQL from a real Prometheus scraping it instead of from its /metrics: the same breaker verdicts, judged
    through Prometheus without a run of their own (CI time is a budget)."""
    passing_suite(workspace(tmp_path / "riskd-mlchaos", healthy), tmp_path / "runs-1", 1)
    passing_suite(workspace(tmp_path / "warm", healthy, warm=True), tmp_path / "runs-2", 2)
    prometheus = run_prometheus(healthy.service_url, "/internal/metrics")
    server = next(prometheus)
    try:
        folder = workspace(tmp_path / "promql", healthy, warm=True, **promql_signals(server.url))
        suite_dir = passing_suite(folder, tmp_path / "runs-3", 3)
    finally:
        prometheus.close()
    [outage] = [d for d in suite_dir.iterdir() if d.name.endswith("-riskd-profiles-outage")]
    assert "query" in (outage / "scenario.yaml").read_text(encoding="utf-8")


DEFECTS = [
    ("broken_fallback", "profiles-outage", {"fallback_engaged"}),
    ("breaker_never_closes", "profiles-outage", {"breaker", "mttr"}),
    ("breaker_never_opens", "profiles-outage", {"breaker"}),
    ("slow_recovery", "profiles-outage", {"mttr"}),
    ("degraded_labelled_gold", "profiles-outage", {"fallback_engaged"}),
    ("no_timeout", "profiles-latency", {"latency"}),
    ("nan_500", "bad-inputs", {"bad_input_handling"}),
    ("overconfident_ood", "distribution-shift", {"ood_routing"}),
]


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("flag", "scenario", "must_fail"), DEFECTS, ids=[d[0] for d in DEFECTS])
def test_a_planted_defect_fails_the_scenario_meant_to_catch_it(
    tmp_path: Path, flag: str, scenario: str, must_fail: set[str]
) -> None:
    # A defect has nothing to do with riskd's cold start (the healthy suites cover it): the stack starts without
    # one, and the scenarios without the warm-up that would wait it out (CI time is a budget).
    with RiskdStack(flags=(flag,), cold_start_s=0) as stack:
        folder = workspace(tmp_path / "riskd-mlchaos", stack.endpoints, warm=True)
        out = tmp_path / "runs"
        result = run_mlchaos("run", "--out", str(out), str(folder / f"{scenario}.yaml"), timeout_s=200)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    [run_dir] = list(out.iterdir())
    verdicts = scenario_verdicts(run_dir)
    failed_verifiers = {str(v["verifier"]) for v in verdicts if not v["passed"]}
    assert must_fail <= failed_verifiers, f"expected {must_fail} among {failed_verifiers}\n{output}"
    baseline = next(v for v in verdicts if v["name"] == "steady_state (baseline)")
    assert baseline["passed"], f"the defect must show under the fault, not before it: {baseline}"
    [closing] = [line for line in output.splitlines() if line.startswith(f"riskd-{scenario}: failed: ")]
    for verifier in must_fail:
        assert verifier in closing, closing
