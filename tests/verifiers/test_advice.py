"""Advice on what to fix: every verifier declares its ways of failing, each failing verdict names one, and the
advice follows from what was measured; failures rank by the error budget they burned."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter
from synthetic import (
    SPECS,
    T0,
    breaker_probes,
    canaries,
    drift_probes,
    fault,
    input_fault,
    recording,
    requests_frame,
)

from mlchaos.experiments.verifiers import AnyVerifier, Verifier, complete, run_verifier, verifier_kinds
from mlchaos.experiments.verifiers.advice import UNMEASURED, Way, WaysOfFailing
from mlchaos.experiments.verifiers.base import BudgetBurn, Judged, Phase, Verdict, VerifierSpec
from mlchaos.experiments.verifiers.phases import budget_burn
from mlchaos.experiments.verifiers.ranking import rank_failures
from mlchaos.experiments.verifiers.steady_state import SteadyState
from mlchaos.experiments.verifiers.steady_state_holds import steady_state_verdict

UNFILLED = re.compile(r"<[a-z_]+>")
"""How a template field the verifier did not fill shows (advice._Filled)."""
OWN = {name: kind for name, kind in verifier_kinds().items() if kind.distribution is None}
SPEC = TypeAdapter(AnyVerifier)


def ways_of(name: str) -> type[WaysOfFailing]:
    ways = OWN[name].implementation.ways
    assert ways is not None
    return ways


def judge(spec: dict[str, object], rec: object) -> Verdict:
    return run_verifier(SPEC.validate_python(spec), rec)  # type: ignore[arg-type]


def assert_way(verdict: Verdict, way: str, *words: str) -> None:
    """Failed, naming ``way``, with advice mentioning ``words`` and every template field filled in."""
    assert not verdict.passed
    assert verdict.advice is not None, verdict
    assert verdict.advice.way == way, verdict.advice
    assert not verdict.advice.generic
    assert not UNFILLED.search(verdict.advice.text), f"a template field was not filled: {verdict.advice.text}"
    for word in words:
        assert word in verdict.advice.text, verdict.advice.text


# --- every verifier declares its ways ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(OWN))
def test_every_verifier_declares_its_ways_of_failing_with_advice_for_each(name: str) -> None:
    ways = ways_of(name)
    assert issubclass(ways, WaysOfFailing)
    assert UNMEASURED.upper() in ways.__members__, (
        f"{name} declares no advice for failing with nothing measured"
    )
    for member in ways:
        assert isinstance(member.value, Way)
        assert member.value.shows.strip() and member.value.look.strip(), f"{name}.{member.name} has no advice"
    unmeasured = ways[UNMEASURED.upper()].value.look
    assert "measurement" in unmeasured or "nothing to" in unmeasured, (
        f"{name}: failing for want of data must point at the measurement, not the service: {unmeasured}"
    )


@pytest.mark.parametrize("spec", SPECS, ids=[str(s["type"]) for s in SPECS])
def test_with_nothing_recorded_each_verifier_names_a_way_it_declares(spec: dict[str, object]) -> None:
    verdict = judge(spec, recording(requests_frame([])))
    assert not verdict.passed and verdict.advice is not None
    assert verdict.advice.way in {m.key for m in ways_of(str(spec["type"]))}
    assert verdict.advice.way in (UNMEASURED, "fault_not_applied")
    assert not UNFILLED.search(verdict.advice.text)


def test_a_passing_verdict_carries_no_advice() -> None:
    verdict = judge({"type": "availability", "min": 0.5}, recording(requests_frame(np.arange(0, 60, 0.1))))
    assert verdict.passed and verdict.advice is None
    assert verdict.budget is not None and verdict.budget.bad == 0


# --- a verifier without ways (another package's) ----------------------------------------------------------------


class _Plain(VerifierSpec):
    type: str = "plain"


def _plain(measured: float | None) -> Verifier[_Plain]:
    verdict = Verdict(
        verifier="plain", name="plain", passed=False, measured=measured, target="", unit="", explanation=""
    )
    return Verifier(_Plain, lambda _recording, _spec: verdict)


@pytest.mark.parametrize(("measured", "way"), [(3.0, "unspecified"), (None, UNMEASURED)])
def test_a_verifier_declaring_no_ways_gets_generic_advice_said_to_be_generic(
    measured: float | None, way: str
) -> None:
    verifier = _plain(measured)
    rec = recording(requests_frame([]))
    verdict = complete(verifier.verify(rec, _Plain()), rec, verifier)
    assert verdict.advice is not None and verdict.advice.generic and verdict.advice.way == way
    assert verdict.advice.text.startswith("generic advice")


# --- per verifier: a failing measurement, the way it names, the advice ------------------------------------------


def test_availability_mostly_5xx_points_at_error_handling_and_timeouts_at_a_missing_timeout() -> None:
    starts = np.arange(0, 60, 0.1)
    errors = recording(requests_frame(starts, status=np.where((starts >= 10) & (starts < 20), 503, 200)))
    assert_way(judge({"type": "availability"}, errors), "server_errors", "5xx", "error handling")
    hangs = recording(requests_frame(starts, status=np.where((starts >= 10) & (starts < 20), 0, 200)))
    assert_way(judge({"type": "availability"}, hangs), "hangs", "no response", "timeout")


def test_fallback_tier_never_answering_says_the_fallback_path_itself_is_broken() -> None:
    starts = np.arange(0, 60, 0.1)
    tier = np.where((starts >= 10) & (starts < 20), "rules", "primary").astype(object)
    verdict = judge(
        {"type": "fallback_engaged", "fault": "f", "tiers": ["fallback"]},
        recording(requests_frame(starts, tier=tier), faults=(fault(),)),
    )
    assert_way(
        verdict, "never_answered", "fallback path itself is broken", "fallback never answered", "rules"
    )


def test_fallback_engaging_only_after_the_grace_points_at_the_timeout() -> None:
    starts = np.arange(0, 60, 0.1)
    late = (starts >= 15) & (starts < 20)
    tier = np.where(late, "fallback", "primary").astype(object)
    status = np.where((starts >= 10) & (starts < 15), 503, 200)
    verdict = judge(
        {"type": "fallback_engaged", "fault": "f", "tiers": ["fallback"], "within": 1},
        recording(requests_frame(starts, status=status, tier=tier), faults=(fault(),)),
    )
    assert_way(verdict, "engaged_late", "timeout")
    assert verdict.advice is not None and "5s after the injection" in verdict.advice.text


def test_breaker_opened_but_never_half_opened_points_at_the_recovery_timer() -> None:
    probes = breaker_probes("store", [(11.0, "open")])
    verdict = judge(
        {"type": "breaker", "dependency": "store", "fault": "f"},
        recording(requests_frame(np.arange(0, 60, 0.1)), faults=(fault(),), probes=probes),
    )
    assert_way(verdict, "never_half_opened", "recovery timer", "'store'")


def test_breaker_never_opening_points_at_its_threshold_and_without_signals_at_the_declaration() -> None:
    starts = requests_frame(np.arange(0, 60, 0.1))
    never = judge(
        {"type": "breaker", "dependency": "store", "fault": "f"},
        recording(starts, faults=(fault(),), probes=breaker_probes("store", [])),
    )
    assert_way(never, "never_opened", "threshold")
    blind = judge(
        {"type": "breaker", "dependency": "store", "fault": "f"}, recording(starts, faults=(fault(),))
    )
    assert_way(blind, UNMEASURED, "the measurement, not the breaker", "declares")


def test_latency_when_every_request_pays_the_delay_says_no_timeout() -> None:
    starts = np.arange(0, 60, 0.05)
    in_fault = (starts >= 10) & (starts < 20)
    slow_all = recording(requests_frame(starts, latency_ms=np.where(in_fault, 420.0, 20.0)))
    assert_way(
        judge({"type": "latency", "phase": "fault", "max_ms": 250}, slow_all), "no_timeout", "no timeout"
    )
    tail = np.where(in_fault & (np.arange(len(starts)) % 20 == 0), 900.0, 20.0)
    slow_tail = recording(requests_frame(starts, latency_ms=tail))
    assert_way(judge({"type": "latency", "phase": "fault", "max_ms": 250}, slow_tail), "slow_tail", "median")
    always = recording(requests_frame(starts, latency_ms=300.0))
    assert_way(
        judge({"type": "latency", "phase": "fault", "max_ms": 250}, always), "slow_already", "baseline"
    )


def test_mttr_that_never_comes_is_a_service_failure_not_an_unmeasured_one() -> None:
    starts = np.arange(0, 60, 0.1)
    status = np.where(starts >= 10, 503, 200)
    verdict = judge(
        {"type": "mttr", "fault": "f", "max": 5},
        recording(requests_frame(starts, status=status), faults=(fault(),)),
    )
    assert verdict.measured is None
    assert_way(verdict, "never_recovered", "breaker stuck open")


def test_mttd_with_no_reaction_points_at_timeouts() -> None:
    starts = np.arange(0, 60, 0.1)
    verdict = judge(
        {"type": "mttd", "fault": "f", "max": 2}, recording(requests_frame(starts), faults=(fault(),))
    )
    assert_way(verdict, "no_reaction", "'f'", "timeout", "primary")


def test_load_shedding_errors_under_the_spike_point_at_a_concurrency_limit() -> None:
    starts = np.arange(0, 60, 0.1)
    status = np.where((starts >= 10) & (starts < 20) & (np.arange(len(starts)) % 3 == 0), 503, 200)
    verdict = judge(
        {"type": "load_shedding", "fault": "f", "admitted_p99_ms": 100},
        recording(requests_frame(starts, status=status), faults=(fault(),)),
    )
    assert_way(verdict, "errors", "429", "concurrency limit")


def test_drift_never_firing_blames_the_monitor_and_no_signal_the_declaration() -> None:
    shift = input_fault("shift", "distribution_shift")
    requests = requests_frame(np.arange(0, 60, 0.5))
    spec = {"type": "drift_detected_within", "fault": "shift", "within": 5}
    quiet = recording(requests, faults=(shift,), probes=drift_probes([]))
    assert_way(judge(spec, quiet), "never_fired", "'shift'", "monitor")
    assert_way(judge(spec, recording(requests, faults=(shift,))), UNMEASURED, "signals.drift")


def test_quality_below_bound_names_the_worst_tier() -> None:
    right = canaries(40, correct=np.ones(40, dtype=bool), tier="primary", at_s=1.0)
    wrong = canaries(40, correct=np.arange(40) % 4 == 0, tier="fallback", at_s=12.0)
    verdict = judge(
        {"type": "quality", "min_accuracy": 0.9}, recording(pd.concat([right, wrong], ignore_index=True))
    )
    assert_way(verdict, "wrong_answers", "fallback")


def test_steady_state_failing_in_the_baseline_says_fix_that_first() -> None:
    starts = np.arange(0, 60, 0.1)
    verdict = steady_state_verdict(
        recording(requests_frame(starts, status=np.where(starts < 10, 503, 200))), Phase.BASELINE
    )
    assert_way(verdict, "broken_before_faults", "fix that first", "availability")
    assert verdict.budget is not None and verdict.budget.bad == 100


# --- the error budget burned, and the ranking --------------------------------------------------------------------


def test_budget_burned_is_bad_over_what_the_slo_allows_in_the_judged_window() -> None:
    starts = np.arange(0, 60, 0.1)  # 100 requests in the fault phase, 10..20 s
    status = np.where((starts >= 10) & (starts < 12), 503, 200)  # 20 of them bad
    rec = recording(requests_frame(starts, status=status), hypothesis=SteadyState(min_availability=0.95))
    burn = budget_burn(rec, Judged(T0 + 10, T0 + 20))
    assert burn is not None
    assert (burn.requests, burn.bad, burn.slo) == (100, 20, 0.95)
    assert burn.allowed == pytest.approx(5.0) and burn.burned == pytest.approx(4.0)
    strict = recording(requests_frame(starts, status=status), hypothesis=SteadyState(min_availability=1.0))
    assert budget_burn(strict, Judged(T0 + 10, T0 + 20)) == BudgetBurn(1.0, 100, 20, 0.0, None)
    assert budget_burn(rec, Judged(T0 + 70, T0 + 80)) is None  # no requests: no measure
    assert budget_burn(rec, None) is None


def _failed(name: str, burned: float | None, *, weight: float = 1.0, measured: bool = True) -> Verdict:
    budget = None if not measured else BudgetBurn(0.99, 100, 1, 1.0, burned)
    return Verdict(
        verifier="x",
        name=name,
        passed=False,
        measured=1.0,
        target="",
        unit="",
        explanation="",
        weight=weight,
        budget=budget,
    )


def test_failures_rank_by_budget_burned_then_without_a_measure_by_weight() -> None:
    held = Verdict(verifier="x", name="held", passed=True, measured=1.0, target="", unit="", explanation="")
    first = [_failed("a-small", 0.5), held, _failed("a-none-light", None, measured=False)]
    second = [
        _failed("b-big", 3.0),
        _failed("b-none-heavy", None, weight=3.0, measured=False),
        _failed("b-zero-budget", None),
        _failed("b-none-light", None, measured=False),
    ]
    ranked = rank_failures([("one", first), ("two", second)])
    assert [f.verdict.name for f in ranked] == [
        "b-zero-budget",  # the SLO allowed nothing and something was bad: more than any finite burn
        "b-big",
        "a-small",
        "b-none-heavy",
        "a-none-light",  # same weight: the report's order
        "b-none-light",
    ]
    assert ranked[0].burned == math.inf and ranked[1].scenario == "two" and ranked[2].run == 0


def test_a_failing_verdict_carries_the_burn_of_the_window_it_judged() -> None:
    starts = np.arange(0, 60, 0.1)
    status = np.where((starts >= 10) & (starts < 20) & (np.arange(len(starts)) % 2 == 0), 503, 200)
    verdict = judge(
        {"type": "availability", "phase": "fault"}, recording(requests_frame(starts, status=status))
    )
    assert verdict.judged == Judged(T0 + 10, T0 + 20)
    assert (
        verdict.budget is not None
        and verdict.budget.bad == 50
        and verdict.budget.burned == pytest.approx(50.0)
    )
