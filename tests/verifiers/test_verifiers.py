from __future__ import annotations

import pytest
from synthetic import SPECS, T0, fault, recording, timeline

from mlchaos.experiments.verifiers import VERIFIERS, run_verifier
from mlchaos.experiments.verifiers.availability import Availability
from mlchaos.experiments.verifiers.base import Phase, Recording, empty_requests
from mlchaos.experiments.verifiers.fallback_engaged import FallbackEngaged
from mlchaos.experiments.verifiers.latency import Latency
from mlchaos.experiments.verifiers.mttr import Mttr
from mlchaos.experiments.verifiers.steady_state import SteadyState, first_sustained_hold


def test_every_registered_verifier_is_reachable_by_its_type() -> None:
    assert set(VERIFIERS) == {
        "availability",
        "breaker",
        "calibration",
        "error_budget",
        "fallback_engaged",
        "fallback_order",
        "latency",
        "load_shedding",
        "mttd",
        "mttr",
        "quality",
        "steady_state",
        "tier_share",
        "bad_input_handling",
        "clean_traffic_unharmed",
        "adversarial_robustness",
        "ood_routing",
        "drift_detected_within",
        "metamorphic",
        "gauge",
    }
    assert {raw["type"] for raw in SPECS} == set(VERIFIERS)  # so that the next test covers every one


@pytest.mark.parametrize("raw", SPECS, ids=lambda raw: str(raw["type"]))
def test_every_verifier_fails_a_run_that_recorded_nothing_and_names_itself(raw: dict[str, object]) -> None:
    spec = VERIFIERS[str(raw["type"])].spec.model_validate(raw)
    verdict = run_verifier(spec, recording(empty_requests()))
    assert (verdict.verifier, verdict.passed, verdict.measured) == (raw["type"], False, None)
    assert verdict.explanation


class TestAvailability:
    def test_counts_5xx_and_no_response_as_unavailable_but_4xx_as_answered(self) -> None:
        statuses = {0: 200, 1: 503, 2: 0, 3: 422}
        requests = timeline(4, 100, lambda t: (statuses[int(t * 4) % 4], "primary", 5.0))
        verdict = run_verifier(Availability(type="availability", min=0.5), recording(requests, end_s=100))
        assert verdict.measured == pytest.approx(50.0)
        assert verdict.passed
        assert "200 failed" in verdict.explanation

    def test_fails_below_the_bound(self, outage_then_recovery: Recording) -> None:
        broken = outage_then_recovery.requests.copy()
        broken.loc[broken.index[:100], "status"] = 500
        verdict = run_verifier(Availability(type="availability", min=0.99), recording(broken))
        assert not verdict.passed
        assert verdict.measured == pytest.approx(100 * (1 - 100 / len(broken)))

    def test_no_requests_in_the_phase_fails_with_nothing_measured(
        self, outage_then_recovery: Recording
    ) -> None:
        no_after = recording(outage_then_recovery.requests, phases=((Phase.BASELINE, 0, 10),))
        verdict = run_verifier(Availability(type="availability", phase="after"), no_after)
        assert not verdict.passed and verdict.measured is None
        assert "no requests in after" in verdict.explanation


class TestFallbackEngaged:
    def test_share_counted_after_the_grace_period(self, outage_then_recovery: Recording) -> None:
        spec = FallbackEngaged(type="fallback_engaged", fault="f", tiers=("fallback",), within=1.0)
        verdict = run_verifier(spec, outage_then_recovery)
        assert verdict.passed and verdict.measured == pytest.approx(100.0)
        assert verdict.details["first_allowed_after_s"] == pytest.approx(0.5)

    def test_static_answers_inside_the_counted_window_fail_it(self, outage_then_recovery: Recording) -> None:
        spec = FallbackEngaged(
            type="fallback_engaged", fault="f", tiers=("fallback",), within=0.0, min_share=0.99
        )
        verdict = run_verifier(spec, outage_then_recovery)
        assert verdict.measured == pytest.approx(95.0)  # 0.5 s of static out of 10 s
        assert not verdict.passed
        assert "static 5%" in verdict.explanation

    def test_unknown_fault_fails(self, outage_then_recovery: Recording) -> None:
        spec = FallbackEngaged(type="fallback_engaged", fault="nope", tiers=("fallback",))
        verdict = run_verifier(spec, outage_then_recovery)
        assert not verdict.passed and "never applied" in verdict.explanation


class TestMttr:
    def test_measures_from_the_revert_to_the_first_sustained_hold(
        self, outage_then_recovery: Recording
    ) -> None:
        verdict = run_verifier(
            Mttr.model_validate({"type": "mttr", "fault": "f", "max": 5, "window": 3}), outage_then_recovery
        )
        assert verdict.measured == pytest.approx(3.0, abs=0.011)
        assert verdict.passed and verdict.details["from"] == "revert"

    def test_self_healing_faults_count_from_the_injection(self, outage_then_recovery: Recording) -> None:
        healing = recording(outage_then_recovery.requests, faults=(fault(heals_itself=True),))
        verdict = run_verifier(Mttr.model_validate({"type": "mttr", "fault": "f", "max": 5}), healing)
        assert verdict.measured == pytest.approx(13.0, abs=0.011)
        assert not verdict.passed and "over 5s" in verdict.explanation

    def test_never_recovering_is_undefined_and_fails(self) -> None:
        requests = timeline(50, 60, lambda t: (200, "primary" if t < 10 else "fallback", 5.0))
        verdict = run_verifier(
            Mttr.model_validate({"type": "mttr", "fault": "f", "max": 30}),
            recording(requests, faults=(fault(),)),
        )
        assert verdict.measured is None and not verdict.passed
        assert "never held" in verdict.explanation

    def test_a_recovery_too_short_to_sustain_does_not_count(self) -> None:
        # primary is back 21-22 s (1 s, shorter than the 3 s window), flaps away, and is back for good at 30 s.
        def serve(t: float) -> tuple[int, str, float]:
            return 200, "primary" if t < 10 or 21 <= t < 22 or t >= 30 else "fallback", 5.0

        verdict = run_verifier(
            Mttr.model_validate({"type": "mttr", "fault": "f", "max": 30, "window": 3}),
            recording(timeline(50, 60, serve), faults=(fault(),)),
        )
        assert verdict.measured == pytest.approx(10.0, abs=0.021)

    def test_a_gap_in_traffic_is_no_evidence_of_recovery(self) -> None:
        requests = timeline(50, 60, lambda t: (200, "primary", 5.0))
        gap = requests[(requests["start"] < T0 + 21) | (requests["start"] >= T0 + 26)]
        verdict = run_verifier(
            Mttr.model_validate({"type": "mttr", "fault": "f", "max": 30, "window": 3}),
            recording(gap, faults=(fault(),)),
        )
        # 20-21 s holds but the window would reach into the silence; the first full window starts at 26 s.
        assert verdict.measured == pytest.approx(6.0, abs=0.021)

    def test_fault_at_time_zero(self) -> None:
        requests = timeline(50, 30, lambda t: (200, "fallback" if t < 5 else "primary", 5.0))
        healing = recording(
            requests, faults=(fault(injected_s=0.0, reverted_s=5.0, heals_itself=True),), end_s=30
        )
        verdict = run_verifier(Mttr.model_validate({"type": "mttr", "fault": "f", "max": 6}), healing)
        assert verdict.measured == pytest.approx(5.0, abs=0.021) and verdict.passed


class TestLatency:
    def test_percentile_of_a_phase_and_of_chosen_tiers(self, outage_then_recovery: Recording) -> None:
        verdict = run_verifier(
            Latency(type="latency", phase="fault", percentile=50, max_ms=10), outage_then_recovery
        )
        assert verdict.measured == pytest.approx(8.0) and verdict.passed
        static_only = Latency(type="latency", phase="fault", percentile=99, max_ms=100, tiers=("static",))
        verdict = run_verifier(static_only, outage_then_recovery)
        assert verdict.measured == pytest.approx(150.0) and not verdict.passed


def test_first_sustained_hold_respects_p99() -> None:
    hypothesis = SteadyState(window=10, min_availability=0.9, max_p99_ms=50)
    requests = timeline(100, 40, lambda t: (200, "primary", 500.0 if t < 15 else 10.0))
    start = first_sustained_hold(hypothesis, requests, T0 + 10, T0 + 40, 3.0)
    assert start is not None
    # A 3 s window (300 requests) tolerates 1 % slow ones at its start before p99 exceeds 50 ms.
    assert start - T0 == pytest.approx(15.0, abs=0.05)
