"""``gauge``: a number the target declares in ``signals.gauges`` stays within bounds over a phase or a fault."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError
from synthetic import fault, gauge_probes, health_probes, recording, requests_frame

from mlchaos.experiments.verifiers import run_verifier
from mlchaos.experiments.verifiers.base import FaultWindow, Phase, Recording
from mlchaos.experiments.verifiers.gauge import Gauge


def spec(**fields: Any) -> Gauge:
    return Gauge.model_validate({"type": "gauge", "name": "queue", **fields})


def queue_depth(t: float) -> float:
    """5 at rest, 40 while fault ``f`` is applied (10–20 s), 90 during fault ``slow`` (30–35 s)."""
    return 40.0 if 10 <= t < 20 else 90.0 if 30 <= t < 35 else 5.0


def run_with(probes: pd.DataFrame, *faults: FaultWindow, **options: Any) -> Recording:
    """Phases: baseline 0–10 s, fault 10–20 s, recovery 20–50 s, after 50–60 s (see synthetic.recording)."""
    return recording(requests_frame([1.0, 2.0]), faults=faults or (fault(),), probes=probes, **options)


QUEUE = run_with(gauge_probes("queue", queue_depth), fault(), fault("slow", 30.0, 35.0))


class TestBounds:
    def test_a_gauge_within_its_max_over_the_run_passes(self) -> None:
        verdict = run_verifier(spec(max=100), QUEUE)
        assert verdict.passed and verdict.measured == 90.0
        assert verdict.name == "gauge queue (max, run)" and verdict.target == "≤ 100"
        assert verdict.explanation == "max of 120 gauge:queue samples in run is 90 — within ≤ 100"
        assert verdict.details["samples"] == 120.0 and verdict.details["failed_readings"] == 0.0

    def test_a_gauge_above_its_max_fails_with_the_value(self) -> None:
        verdict = run_verifier(spec(max=50), QUEUE)
        assert not verdict.passed and verdict.measured == 90.0
        assert "is 90 — outside ≤ 50" in verdict.explanation

    def test_a_gauge_below_its_min_fails(self) -> None:
        free = run_with(gauge_probes("pool_free", lambda t: 1.0 if 22 <= t < 24 else 8.0))
        verdict = run_verifier(spec(name="pool_free", statistic="min", min=2), free)
        assert not verdict.passed and verdict.measured == 1.0
        assert verdict.target == "≥ 2" and "min of 120 gauge:pool_free samples" in verdict.explanation
        assert run_verifier(spec(name="pool_free", statistic="min", min=1), free).passed

    def test_both_bounds_are_held(self) -> None:
        verdict = run_verifier(spec(phase="baseline", min=6, max=50), QUEUE)
        assert not verdict.passed and verdict.measured == 5.0 and verdict.target == "≥ 6 and ≤ 50"

    @pytest.mark.parametrize(
        ("statistic", "expected"),
        [("max", 90.0), ("min", 5.0), ("mean", (20 * 40.0 + 10 * 90.0 + 90 * 5.0) / 120), ("last", 5.0)],
    )
    def test_the_statistic_is_taken_over_the_windows_samples(self, statistic: str, expected: float) -> None:
        verdict = run_verifier(spec(statistic=statistic, max=1000), QUEUE)
        assert verdict.measured == pytest.approx(expected)


class TestWindow:
    def test_a_phase_counts_only_its_own_samples(self) -> None:
        assert run_verifier(spec(phase="baseline", max=10), QUEUE).measured == 5.0
        fault_phase = run_verifier(spec(phase="fault", max=10), QUEUE)
        assert not fault_phase.passed and fault_phase.measured == 40.0
        assert "in fault" in fault_phase.explanation

    def test_a_fault_window_runs_from_its_injection_to_its_revert(self) -> None:
        slow = run_verifier(spec(fault="slow", statistic="mean", max=50), QUEUE)
        assert not slow.passed and slow.measured == 90.0  # only 30–35 s, not the rest of the recovery phase
        assert slow.name == "gauge queue (mean, slow)" and "samples in 'slow'" in slow.explanation
        recovery = run_verifier(spec(phase="recovery", statistic="mean", max=50), QUEUE)
        assert recovery.passed and recovery.measured == pytest.approx((10 * 90.0 + 50 * 5.0) / 60)

    def test_a_fault_never_reverted_is_judged_to_the_end_of_the_run(self) -> None:
        run = run_with(gauge_probes("queue", queue_depth), fault("slow", 30.0, None))
        assert run_verifier(spec(fault="slow", statistic="last", max=50), run).measured == 5.0

    def test_a_fault_never_applied_measures_nothing(self) -> None:
        verdict = run_verifier(spec(fault="other", max=50), QUEUE)
        assert not verdict.passed and verdict.measured is None
        assert verdict.explanation == "fault 'other' was never applied"

    def test_a_phase_the_run_never_reached_measures_nothing(self) -> None:
        short = run_with(gauge_probes("queue", queue_depth), phases=((Phase.BASELINE, 0, 10),))
        verdict = run_verifier(spec(phase="after", max=50), short)
        assert not verdict.passed and verdict.measured is None
        assert verdict.explanation == "the run never reached the after phase"

    def test_a_phase_and_a_fault_together_are_refused(self) -> None:
        with pytest.raises(ValidationError, match="give 'phase' or 'fault'"):
            spec(phase="fault", fault="slow", max=1)

    def test_a_fault_window_survives_the_scenario_as_recorded(self) -> None:
        """A run records its scenario with every default filled in; ``mlchaos report`` reads it back."""
        recorded = spec(fault="slow", max=1).model_dump(mode="json")
        assert recorded["phase"] is None and Gauge.model_validate(recorded).fault == "slow"


class TestNothingToMeasure:
    def test_no_sample_of_the_gauge_fails_saying_it_may_not_be_declared(self) -> None:
        run = run_with(health_probes("ready"))
        verdict = run_verifier(spec(max=50), run)
        assert not verdict.passed and verdict.measured is None
        assert verdict.explanation == (
            "no gauge:queue samples: the target may not declare it in signals.gauges"
        )

    def test_another_gauges_samples_do_not_count(self) -> None:
        verdict = run_verifier(spec(name="pool", min=0), QUEUE)
        assert not verdict.passed and verdict.measured is None

    def test_failed_readings_are_explained_with_their_error(self) -> None:
        error = "signals.gauges.queue: no series of queue_depth"
        run = run_with(gauge_probes("queue", lambda t: None, error=error))
        verdict = run_verifier(spec(max=50), run)
        assert not verdict.passed and verdict.measured is None
        assert verdict.explanation == (
            f"no gauge:queue sample with a number in run: 120 of its 120 readings failed (first: {error})"
        )

    def test_failed_readings_beside_good_ones_are_counted(self) -> None:
        run = run_with(gauge_probes("queue", lambda t: None if t >= 30 else 5.0))
        verdict = run_verifier(spec(max=50), run)
        assert verdict.passed and verdict.details["failed_readings"] == 60.0
        assert verdict.explanation.endswith("(60 readings failed or empty, not counted)")

    def test_samples_only_outside_the_window_are_no_samples(self) -> None:
        early = run_with(gauge_probes("queue", queue_depth, end_s=10.0))
        verdict = run_verifier(spec(phase="recovery", max=50), early)
        assert not verdict.passed and verdict.measured is None
        assert verdict.explanation == "no gauge:queue samples in recovery (20 outside it)"

    def test_unreadable_metrics_are_named(self) -> None:
        probes = health_probes("ready").assign(check="metrics", ok=False, value=None, error="HTTP 500")
        verdict = run_verifier(spec(max=50), run_with(probes))
        assert verdict.measured is None
        assert "the service's metrics could not be read (240 samples; first: HTTP 500)" in verdict.explanation


@pytest.mark.parametrize(
    ("fields", "message"),
    [({}, "give 'max' and/or 'min'"), ({"min": 5, "max": 1}, "'min' \\(5\\) is above 'max' \\(1\\)")],
)
def test_bounds_are_required_and_ordered(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        spec(**fields)
