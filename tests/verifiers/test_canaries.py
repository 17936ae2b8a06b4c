"""``quality`` (accuracy on canaries) and ``calibration`` (ECE of their confidence), with hand-computed answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic import canaries, recording, requests_frame

from mlchaos.experiments.verifiers import run_verifier
from mlchaos.experiments.verifiers.base import Verdict
from mlchaos.experiments.verifiers.calibration import Calibration
from mlchaos.experiments.verifiers.quality import Quality


def first(n: int, of: int) -> np.ndarray:
    """``of`` flags, the first ``n`` of them true (spread does not matter for accuracy or ECE)."""
    return np.arange(of) < n


def quality(requests: pd.DataFrame, **params: object) -> Verdict:
    spec = Quality.model_validate({"type": "quality", "min_accuracy": 0.8, **params})
    return run_verifier(spec, recording(requests.sort_values("start", kind="stable")))


# Baseline: 100 primary canaries, 90 right. Fault: 100 fallback canaries, 70 right.
MIXED = pd.concat(
    [
        canaries(100, correct=first(90, 100), at_s=1),
        canaries(100, correct=first(70, 100), tier="fallback", at_s=12),
    ]
)


class TestQuality:
    @pytest.mark.parametrize(
        ("params", "accuracy", "passed"),
        [
            ({}, 80.0, True),
            ({"tiers": ["fallback"]}, 70.0, False),
            ({"phase": "baseline"}, 90.0, True),
            ({"phase": "fault", "min_accuracy": 0.7}, 70.0, True),
        ],
        ids=["all-tiers-whole-run", "fallback-only", "baseline-only", "fault-phase-lower-bar"],
    )
    def test_accuracy_of_the_selected_canaries(
        self, params: dict[str, object], accuracy: float, passed: bool
    ) -> None:
        verdict = quality(MIXED, **params)
        assert verdict.measured == pytest.approx(accuracy) and verdict.passed is passed

    def test_details_break_accuracy_down_by_phase_and_tier(self) -> None:
        details = quality(MIXED).details
        assert details["accuracy.baseline"] == pytest.approx(0.9) and details[
            "accuracy.fallback"
        ] == pytest.approx(0.7)
        assert (
            details["accuracy.fault.fallback"] == pytest.approx(0.7) and details["n.baseline.primary"] == 100
        )
        assert "accuracy.fault.primary" not in details

    def test_only_answered_labelled_requests_are_canaries_and_a_missing_prediction_is_wrong(self) -> None:
        failed = canaries(30, correct=first(30, 30), at_s=2).assign(status=503)
        unlabelled = requests_frame(np.arange(3, 4, 0.01))
        blank = canaries(20, correct=first(20, 20), at_s=5).assign(prediction=None)
        verdict = quality(pd.concat([MIXED, failed, unlabelled, blank]))
        assert verdict.details["canaries"] == 220 and verdict.measured == pytest.approx(160 / 220 * 100)

    @pytest.mark.parametrize(
        ("requests", "params"),
        [
            (canaries(19, correct=first(19, 19)), {}),
            (MIXED, {"phase": "after"}),
            (MIXED, {"tiers": ["cache"]}),
            (MIXED, {"min_canaries": 201}),
        ],
        ids=["nineteen-canaries", "none-in-the-phase", "none-from-the-tier", "raised-minimum"],
    )
    def test_too_few_canaries_fails_with_nothing_measured(
        self, requests: pd.DataFrame, params: dict[str, object]
    ) -> None:
        verdict = quality(requests, **params)
        assert not verdict.passed and verdict.measured is None
        assert verdict.explanation.startswith("too few canaries")


def calibration(requests: pd.DataFrame, **params: object) -> Verdict:
    spec = Calibration.model_validate({"type": "calibration", **params})
    return run_verifier(spec, recording(requests.sort_values("start", kind="stable")))


def stream(*groups: tuple[int, int, float]) -> pd.DataFrame:
    """Canaries from ``(how many, how many right, confidence)`` groups, placed one after another."""
    parts = [
        canaries(n, correct=first(right, n), confidence=np.full(n, conf), at_s=1 + i)
        for i, (n, right, conf) in enumerate(groups)
    ]
    return pd.concat(parts)


class TestCalibration:
    def test_a_perfectly_calibrated_stream_has_ece_zero(self) -> None:
        verdict = calibration(stream((400, 300, 0.75), (400, 100, 0.25), (100, 100, 1.0)))
        assert verdict.measured == pytest.approx(0.0, abs=1e-12) and verdict.passed

    def test_calibrated_within_bins_from_random_confidences_is_near_zero(self) -> None:
        rng = np.random.default_rng(7)
        confidence = rng.uniform(0, 1, 200_000)
        requests = canaries(200_000, correct=rng.uniform(0, 1, 200_000) < confidence, confidence=confidence)
        assert calibration(requests).measured == pytest.approx(0.0, abs=0.01)

    def test_an_overconfident_stream_matches_the_hand_computed_ece(self) -> None:
        # Bin 0.9-1.0: says 0.95, right 60 % -> gap 0.35; bin 0.5-0.6: says 0.55, right 50 % -> gap 0.05.
        # ECE = (100 × 0.35 + 100 × 0.05) / 200 = 0.2
        verdict = calibration(stream((100, 60, 0.95), (100, 50, 0.55)))
        assert verdict.measured == pytest.approx(0.2) and not verdict.passed
        assert verdict.details["bin.0.90-1.00"] == "n=100 accuracy=0.600 confidence=0.950"
        assert "mean confidence 0.750, accuracy 0.550" in verdict.explanation

    @pytest.mark.parametrize(
        ("bins", "ece"), [(10, 0.35), (2, 0.35), (1, 0.0)], ids=["10-bins", "2-bins", "1-bin"]
    )
    def test_binning_decides_whether_opposite_errors_cancel(self, bins: int, ece: float) -> None:
        # Over- and under-confident by the same amount: one bin hides both, separate bins show them.
        verdict = calibration(stream((100, 60, 0.95), (100, 50, 0.15)), bins=bins)
        assert verdict.measured == pytest.approx(ece)

    def test_filters_and_canaries_without_confidence(self) -> None:
        requests = pd.concat(
            [
                stream((100, 60, 0.95)),
                canaries(100, correct=first(50, 100), confidence=np.full(100, 0.5), tier="rules", at_s=15),
                canaries(50, correct=first(50, 50), at_s=16),  # no confidence reported: not counted
            ]
        )
        assert calibration(requests, tiers=["rules"]).measured == pytest.approx(0.0)
        verdict = calibration(requests, phase="baseline")
        assert verdict.measured == pytest.approx(0.35) and verdict.details["canaries"] == 100
        assert verdict.details["ece.fault.rules"] == pytest.approx(0.0)

    def test_too_few_canaries(self) -> None:
        verdict = calibration(stream((10, 9, 0.9)))
        assert (
            verdict.measured is None and not verdict.passed and "too few canaries: 10" in verdict.explanation
        )
