"""The ``steady_state`` verifier, ``latency``'s breakdown, and ``mttr`` when traffic has gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from synthetic import T0, fault, recording, timeline

from mlchaos.experiments.outcome import steady_state_verdict as outcome_steady_state_verdict
from mlchaos.experiments.targets import DEFAULT_TIERS
from mlchaos.experiments.verifiers import run_verifier
from mlchaos.experiments.verifiers.base import Phase, Recording
from mlchaos.experiments.verifiers.latency import Latency
from mlchaos.experiments.verifiers.mttr import Mttr
from mlchaos.experiments.verifiers.steady_state import MAX_GAP_S, SteadyState, evaluate, first_sustained_hold
from mlchaos.experiments.verifiers.steady_state_holds import SteadyStateHolds, steady_state_verdict


class TestSteadyStateVerifier:
    @pytest.mark.parametrize("phase", ["baseline", "after"])
    def test_agrees_with_the_verdicts_every_run_reports(
        self, outage_then_recovery: Recording, phase: str
    ) -> None:
        verdict = run_verifier(SteadyStateHolds(type="steady_state", phase=phase), outage_then_recovery)
        reported = outcome_steady_state_verdict(outage_then_recovery, Phase(phase))
        assert (verdict.name, verdict.passed, verdict.measured, verdict.explanation) == (
            reported.name,
            reported.passed,
            reported.measured,
            reported.explanation,
        )
        assert verdict.passed and verdict.details["share.primary"] == 1.0

    def test_defaults_to_after_and_fails_when_the_hypothesis_does_not_hold(self) -> None:
        requests = timeline(100, 60, lambda t: (200, "primary" if t < 50 else "fallback", 5.0))
        verdict = run_verifier(SteadyStateHolds(type="steady_state"), recording(requests))
        assert verdict.name == "steady_state (after)" and not verdict.passed
        assert "primary share 0.0% < 95%" in verdict.explanation

    def test_a_phase_the_run_never_reached_fails_with_nothing_measured(
        self, outage_then_recovery: Recording
    ) -> None:
        short = recording(outage_then_recovery.requests, phases=((Phase.BASELINE, 0, 10),))
        verdict = steady_state_verdict(short, Phase.AFTER)
        assert not verdict.passed and verdict.measured is None
        assert "never reached the after phase" in verdict.explanation


def test_latency_details_give_percentiles_per_phase_and_tier(outage_then_recovery: Recording) -> None:
    verdict = run_verifier(Latency(type="latency", max_ms=500), outage_then_recovery)
    details = verdict.details
    assert details["p50.baseline"] == 20.0 and details["p99.baseline.primary"] == 20.0
    assert details["p50.fault.fallback"] == 8.0 and details["p99.fault.static"] == 150.0
    assert details["p50.fault"] == 8.0 and details["p99.fault"] == pytest.approx(150.0)
    assert "p95.fault.primary" not in details and "p95.after.primary" in details
    assert verdict.passed  # the single-percentile verdict is unchanged


def test_latency_details_name_requests_without_a_tier() -> None:
    requests = timeline(10, 60, lambda t: (0, None, 2000.0) if 10 <= t < 12 else (200, "primary", 10.0))
    details = run_verifier(Latency(type="latency", max_ms=100), recording(requests)).details
    assert details["p99.fault.none"] == 2000.0


def mttr(requests: pd.DataFrame, window: float = 3.0, reverted_s: float | None = 20.0) -> float | None:
    spec = Mttr.model_validate({"type": "mttr", "fault": "f", "max": 60, "window": window})
    return run_verifier(spec, recording(requests, faults=(fault(reverted_s=reverted_s),))).measured


def primary_except(*silences: tuple[float, float]) -> pd.DataFrame:
    """Primary answers at 50 Hz over 60 s, except fallback during the 10-20 s fault and silence in ``silences``."""
    requests = timeline(50, 60, lambda t: (200, "fallback" if 10 <= t < 20 else "primary", 5.0))
    quiet = np.zeros(len(requests), dtype=bool)
    for start, end in silences:
        quiet |= (requests["start"] >= T0 + start) & (requests["start"] < T0 + end)
    return requests[~quiet]


class TestMttrWithClockGaps:
    @pytest.mark.parametrize(
        ("silences", "expected"),
        [
            ((), 0.0),
            (((21.0, 21.9),), 0.0),
            (((21.0, 26.0),), 6.0),
            (((20.0, 40.0),), 20.0),
            (((21.0, 27.0), (27.5, 28.3)), 7.0),
        ],
        ids=[
            "no-gap",
            "gap-under-max-gap-is-tolerated",
            "gap-inside-the-window",
            "silent-after-revert",
            "two-gaps",
        ],
    )
    def test_silence_is_no_evidence(self, silences: tuple[tuple[float, float], ...], expected: float) -> None:
        assert mttr(primary_except(*silences)) == pytest.approx(expected, abs=0.021)

    def test_traffic_that_never_resumes_before_the_run_ends_is_undefined(self) -> None:
        assert mttr(primary_except((20.0, 60.0))) is None

    def test_a_window_that_would_end_after_the_run_does_not_count(self) -> None:
        assert mttr(primary_except((20.0, 57.5))) is None

    @pytest.mark.parametrize(
        ("window", "expected"), [(1.0, 1.0), (3.0, 10.0)], ids=["1s-window", "3s-window"]
    )
    def test_the_sustain_window_is_configurable(self, window: float, expected: float) -> None:
        # primary is back 21-22.5 s, flaps away, and is back for good at 30 s.
        requests = timeline(
            50, 60, lambda t: (200, "primary" if t < 10 or 21 <= t < 22.5 or t >= 30 else "fallback", 5)
        )
        assert mttr(requests, window=window) == pytest.approx(expected, abs=0.021)

    def test_a_gap_before_the_run_ends_with_the_fault_never_reverted(self) -> None:
        assert mttr(primary_except(), reverted_s=None) is None


def reference_hold(
    hypothesis: SteadyState, requests: pd.DataFrame, since: float, until: float, sustain: float
) -> float | None:
    """first_sustained_hold's definition, written as a plain loop over every candidate start."""
    window = requests[(requests["start"] >= since) & (requests["start"] < until)]
    starts = window["start"].to_numpy()
    for i, start in enumerate(starts):
        row = window.iloc[i]
        good = 200 <= row["status"] < 500 and (
            not hypothesis.min_tier_share or row["tier"] in hypothesis.min_tier_share
        )
        inside = window[(starts >= start) & (starts < start + sustain)]
        times = inside["start"].to_numpy()
        if (
            good
            and start + sustain <= until
            and not (np.diff(times) > MAX_GAP_S).any()
            and start + sustain - times[-1] <= MAX_GAP_S
            and evaluate(hypothesis, inside, tiers=DEFAULT_TIERS).holds
        ):
            return float(start)
    return None


@settings(max_examples=150, deadline=None, database=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0.02, 0.05, 0.1, 0.4, 1.5]),
            st.sampled_from([200, 200, 200, 200, 503]),
            st.sampled_from(["primary", "primary", "primary", "fallback"]),
            st.sampled_from([5.0, 49.0, 50.0, 51.0, 500.0]),
        ),
        min_size=5,
        max_size=120,
    )
)
def test_first_sustained_hold_matches_its_definition(rows: list[tuple[float, int, str, float]]) -> None:
    # Latencies straddle the 50 ms bound, so the vectorised pre-check on slow-request counts is exercised at its edge.
    times = np.cumsum([gap for gap, *_ in rows])
    requests = pd.DataFrame(
        {
            "start": T0 + times,
            "status": [r[1] for r in rows],
            "tier": [r[2] for r in rows],
            "latency_ms": [r[3] for r in rows],
        }
    )
    hypothesis = SteadyState(min_availability=0.8, max_p99_ms=50.0, min_tier_share={"primary": 0.7})
    until = T0 + times[-1] + 0.5
    expected = reference_hold(hypothesis, requests, T0, until, 1.0)
    assert first_sustained_hold(hypothesis, requests, T0, until, 1.0) == expected


@pytest.mark.parametrize("slow", [1, 2, 3, 6], ids=lambda k: f"{k}-slow-per-200")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_first_sustained_hold_at_the_edge_of_its_p99_pre_check(slow: int, seed: int) -> None:
    # 2 s windows of 200 requests may hold 2 slow ones and keep p99 ≤ 50 ms (if the rest are fast): exactly the
    # boundary the count pre-check must not cut. Slow requests land at random, at about `slow` per window.
    rng = np.random.default_rng(seed)
    latency = np.full(800, 5.0)
    hits = rng.choice(800, size=4 * slow, replace=False)
    latency[hits] = rng.choice([51.0, 500.0], size=len(hits))
    requests = pd.DataFrame(
        {"start": T0 + np.arange(800) * 0.01, "status": 200, "tier": "primary", "latency_ms": latency}
    )
    hypothesis = SteadyState(min_availability=0.9, max_p99_ms=50.0)
    until = T0 + 8.0
    assert first_sustained_hold(hypothesis, requests, T0, until, 2.0) == reference_hold(
        hypothesis, requests, T0, until, 2.0
    )


def test_baseline_leaves_out_requests_still_in_flight_when_the_fault_began() -> None:
    from mlchaos.experiments.verifiers.base import Phase
    from mlchaos.experiments.verifiers.steady_state import SteadyState
    from mlchaos.experiments.verifiers.steady_state_holds import steady_state_verdict

    # Fast until 9.8 s; requests sent in the last 0.2 s of the baseline are caught by the fault and take 900 ms.
    requests = timeline(50, 20, lambda t: (200, "primary", 900.0 if 9.8 <= t < 10.5 else 10.0))
    hypothesis = SteadyState(window=10, min_availability=0.99, max_p99_ms=100)
    verdict = steady_state_verdict(recording(requests, hypothesis=hypothesis), Phase.BASELINE)
    assert verdict.passed, verdict.explanation
    assert verdict.details["requests"] == 490.0  # 500 sent in the baseline, 10 still in flight at 10 s
