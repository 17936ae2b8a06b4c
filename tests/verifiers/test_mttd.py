"""``mttd``: the first visible reaction to a fault — a non-primary answer arriving, or a breaker leaving closed."""

from __future__ import annotations

import pandas as pd
import pytest
from synthetic import breaker_probes, fault, recording, requests_frame, timeline

from mlchaos.experiments.verifiers import run_verifier
from mlchaos.experiments.verifiers.base import FaultWindow, Verdict
from mlchaos.experiments.verifiers.mttd import Mttd


def served_from(switch_s: float, latency_ms: float = 8.0) -> pd.DataFrame:
    """Primary until ``switch_s`` (request start), fallback until the 20 s revert, primary again after."""
    return timeline(100, 60, lambda t: (200, "fallback" if switch_s <= t < 20 else "primary", latency_ms))


def check(
    requests: pd.DataFrame,
    probes: pd.DataFrame | None = None,
    *,
    faults: tuple[FaultWindow, ...] = (fault(),),
    **params: object,
) -> Verdict:
    spec = Mttd.model_validate({"type": "mttd", "fault": "f", "max": 1, **params})
    return run_verifier(spec, recording(requests, faults=faults, probes=probes))


def test_the_first_fallback_answer_counts_when_it_arrives() -> None:
    verdict = check(served_from(10.5))
    assert verdict.passed and verdict.measured == pytest.approx(0.508)
    assert verdict.details["first_signal"] == "fallback answer"


def test_a_breaker_seen_opening_before_any_fallback_answer_comes_first() -> None:
    verdict = check(served_from(11.0), breaker_probes("feature_store", [(10.3, "open")]))
    assert verdict.measured == pytest.approx(0.5)
    assert verdict.details["first_signal"] == "breaker feature_store"
    assert verdict.details["fallback.answer_after_s"] == pytest.approx(1.008)
    assert "then fallback answer 1.01s" in verdict.explanation


def test_a_request_in_flight_at_the_injection_that_falls_back_is_a_reaction() -> None:
    requests = pd.concat([served_from(11.0), requests_frame([9.9], tier="fallback", latency_ms=300.0)])
    assert check(requests.sort_values("start")).measured == pytest.approx(0.2)


def test_only_the_chosen_dependencies_count() -> None:
    probes = breaker_probes("primary_model", [(10.3, "open")])
    assert check(served_from(11.0), probes, dependencies=["feature_store"]).measured == pytest.approx(1.008)


@pytest.mark.parametrize(
    ("requests", "probes"),
    [
        (served_from(30.0), None),
        (served_from(30.0), breaker_probes("feature_store", [(20.3, "open")])),
        (
            timeline(
                100,
                60,
                lambda t: (503 if 10 <= t < 20 else 200, "fallback" if 10 <= t < 20 else "primary", 5),
            ),
            None,
        ),
    ],
    ids=["never-reacts", "breaker-opens-only-after-the-revert", "fallback-tier-but-errors"],
)
def test_no_reaction_before_the_revert_is_undefined_and_fails(
    requests: pd.DataFrame, probes: pd.DataFrame | None
) -> None:
    verdict = check(requests, probes)
    assert not verdict.passed and verdict.measured is None
    assert "no reaction to 'f' before it was reverted" in verdict.explanation


def test_too_slow_a_reaction_fails() -> None:
    verdict = check(served_from(12.0))
    assert not verdict.passed and verdict.measured == pytest.approx(2.008)
    assert "over 1s" in verdict.explanation


def test_fault_at_time_zero() -> None:
    requests = timeline(100, 30, lambda t: (200, "fallback" if t < 5 else "primary", 10.0))
    verdict = check(requests, faults=(fault(injected_s=0.0, reverted_s=5.0),))
    assert verdict.measured == pytest.approx(0.01)


def test_fallback_answers_in_the_baseline_are_reported_as_noise() -> None:
    requests = timeline(100, 60, lambda t: (200, "rules" if round(t * 100) % 50 == 0 else "primary", 5.0))
    verdict = check(requests)
    assert verdict.details["baseline_not_best_share"] == pytest.approx(0.02)


def test_unknown_fault_fails() -> None:
    verdict = check(served_from(10.5), faults=())
    assert verdict.measured is None and "never applied" in verdict.explanation
