"""``drift_detected_within``: the target's drift alarm fires soon after a distribution shift begins."""

from __future__ import annotations

import pandas as pd
import pytest
from synthetic import drift_probes, health_probes, input_fault, recording, requests_frame

from mlchaos.experiments.verifiers import run_verifier
from mlchaos.experiments.verifiers.base import Recording
from mlchaos.experiments.verifiers.drift_detected_within import DriftDetectedWithin

SPEC = DriftDetectedWithin(type="drift_detected_within", fault="shift", within="5s")


def shifted(probes: pd.DataFrame, injected_s: float = 12.0) -> Recording:
    """A shift from ``injected_s`` to 30 s after the start, the baseline 0..10 s (see synthetic.recording)."""
    return recording(
        requests_frame([1.0, 2.0]),
        faults=(input_fault("shift", "distribution_shift", injected_s, 30.0),),
        probes=probes,
    )


class TestDriftDetectedWithin:
    def test_alarm_soon_after_the_onset_passes(self) -> None:
        verdict = run_verifier(SPEC, shifted(drift_probes([(15.0, 33.0)])))
        assert verdict.passed and verdict.measured == pytest.approx(3.0)
        assert verdict.explanation == "drift alarm fired 3.0s after 'shift' began — within 5s"
        assert verdict.table is not None and verdict.table.rows == (
            ("alarm gauge 0 → 1", 3.0),
            ("onset counter rose", 3.0),
        )

    def test_a_late_alarm_fails_and_still_says_when(self) -> None:
        verdict = run_verifier(SPEC, shifted(drift_probes([(19.5, 33.0)])))
        assert not verdict.passed and verdict.measured == pytest.approx(7.5)
        assert "over 5s" in verdict.explanation

    def test_an_alarm_shorter_than_a_sample_is_seen_by_the_counter(self) -> None:
        probes = drift_probes([(15.0, 33.0)], gauge=False)
        verdict = run_verifier(SPEC, shifted(probes))
        assert verdict.passed and verdict.measured == pytest.approx(3.0)

    def test_the_gauge_alone_is_enough(self) -> None:
        verdict = run_verifier(SPEC, shifted(drift_probes([(15.0, 33.0)], counter=False)))
        assert verdict.passed and verdict.measured == pytest.approx(3.0)

    def test_a_monitor_that_never_fires_fails(self) -> None:
        verdict = run_verifier(SPEC, shifted(drift_probes([])))
        assert not verdict.passed and verdict.measured is None
        assert "never fired after 'shift' began" in verdict.explanation

    def test_an_alarm_during_the_baseline_is_a_false_alarm(self) -> None:
        probes = drift_probes([(3.0, 5.0), (14.0, 33.0)])
        verdict = run_verifier(SPEC, shifted(probes))
        assert not verdict.passed and verdict.measured == pytest.approx(2.0)
        assert (
            "already raised during the baseline (on in 4 samples, 1 onset): a false alarm"
            in verdict.explanation
        )
        allowed = DriftDetectedWithin(
            type="drift_detected_within", fault="shift", within=5, allow_baseline_alarm=True
        )
        assert run_verifier(allowed, shifted(probes)).passed

    def test_an_alarm_that_stays_on_from_before_the_shift_detects_nothing(self) -> None:
        allowed = DriftDetectedWithin(
            type="drift_detected_within", fault="shift", within=5, allow_baseline_alarm=True
        )
        verdict = run_verifier(allowed, shifted(drift_probes([(3.0, 60.0)])))
        assert not verdict.passed and "never fired" in verdict.explanation

    def test_onsets_counted_before_the_run_do_not_count(self) -> None:
        verdict = run_verifier(SPEC, shifted(drift_probes([(15.0, 33.0)], onsets_before=7, gauge=False)))
        assert verdict.passed and verdict.measured == pytest.approx(3.0)

    def test_a_target_without_drift_metrics_fails_clearly(self) -> None:
        verdict = run_verifier(SPEC, shifted(health_probes("live")))
        assert not verdict.passed and verdict.measured is None
        assert verdict.explanation.startswith(
            "the target declares no drift signals (signals.drift.alarm or signals.drift.onsets)"
        )

    def test_a_shift_that_never_ran(self) -> None:
        spec = DriftDetectedWithin(type="drift_detected_within", fault="nope", within=5)
        verdict = run_verifier(spec, shifted(drift_probes([(15.0, 33.0)])))
        assert not verdict.passed and "'nope' was never applied" in verdict.explanation

    def test_within_takes_a_duration(self) -> None:
        assert DriftDetectedWithin(type="drift_detected_within", fault="f", within="1m").within == 60.0
