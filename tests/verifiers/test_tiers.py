"""``tier_share`` and ``fallback_order``: which tiers answered, against bounds and against the fallback chain."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError
from synthetic import fault, recording, timeline

from mlchaos.experiments.verifiers import run_verifier
from mlchaos.experiments.verifiers.base import FaultWindow, Phase, Recording
from mlchaos.experiments.verifiers.fallback_order import FallbackOrder
from mlchaos.experiments.verifiers.tier_share import TierShare


def share(recording_: Recording, **params: object) -> tuple[bool, float | None, str]:
    verdict = run_verifier(TierShare.model_validate({"type": "tier_share", **params}), recording_)
    return verdict.passed, verdict.measured, verdict.explanation


class TestTierShare:
    @pytest.mark.parametrize(
        ("params", "passed", "measured"),
        [
            ({"tiers": ["primary", "fallback"], "phase": "fault", "min": 0.95}, True, 95.0),
            ({"tiers": ["primary"], "phase": "fault", "min": 0.95}, False, 0.0),
            ({"tiers": ["static"], "phase": "fault", "max": 0.01}, False, 5.0),
            ({"tiers": ["static"], "phase": "fault", "min": 0.01, "max": 0.10}, True, 5.0),
            ({"tiers": ["primary"], "phase": "baseline", "min": 1.0}, True, 100.0),
        ],
        ids=[
            "tier-1-or-2-sla",
            "primary-gone-during-fault",
            "static-over-max",
            "static-in-band",
            "baseline-all-primary",
        ],
    )
    def test_share_of_answers_in_a_phase(
        self, outage_then_recovery: Recording, params: dict[str, object], passed: bool, measured: float
    ) -> None:
        got_passed, got, _ = share(outage_then_recovery, **params)
        assert got_passed is passed and got == pytest.approx(measured)

    def test_only_answered_requests_count(self) -> None:
        # Every other request fails: the primary share of the *answers* is still 100 %.
        requests = timeline(10, 60, lambda t: (503 if int(t * 10) % 2 else 200, "primary", 5.0))
        passed, measured, explanation = share(recording(requests), tiers=["primary"], min=0.99)
        assert passed and measured == pytest.approx(100.0)
        assert "of 300 answered (2xx)" in explanation and "300 unanswered requests not counted" in explanation

    def test_no_answers_in_the_phase_fails_with_nothing_measured(self) -> None:
        requests = timeline(10, 60, lambda t: (503 if 10 <= t < 20 else 200, "primary", 5.0))
        passed, measured, explanation = share(recording(requests), tiers=["primary"], phase="fault", min=0.5)
        assert not passed and measured is None and "no answered (2xx) requests in fault" in explanation

    def test_a_phase_the_run_never_reached(self, outage_then_recovery: Recording) -> None:
        short = recording(outage_then_recovery.requests, phases=((Phase.BASELINE, 0, 10),))
        assert share(short, tiers=["primary"], phase="after", min=0.5)[1] is None

    @pytest.mark.parametrize(
        ("params", "message"),
        [({}, "give 'min' and/or 'max'"), ({"min": 0.9, "max": 0.5}, "'min' (0.9) is above 'max' (0.5)")],
        ids=["no-bound", "min-above-max"],
    )
    def test_bounds_are_validated(self, params: dict[str, object], message: str) -> None:
        with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
            TierShare.model_validate({"type": "tier_share", "tiers": ["primary"], **params})


def order(
    recording_: Recording, **params: object
) -> tuple[bool, float | None, dict[str, float | str | None], str]:
    verdict = run_verifier(
        FallbackOrder.model_validate({"type": "fallback_order", "fault": "f", **params}), recording_
    )
    return verdict.passed, verdict.measured, verdict.details, verdict.explanation


class TestFallbackOrder:
    def test_answers_from_the_best_healthy_tier_pass(self, outage_then_recovery: Recording) -> None:
        passed, measured, details, _ = order(outage_then_recovery, within=1)
        assert passed and measured == 0.0 and details["expected_tier"] == "fallback"

    def test_answers_that_skip_a_healthy_better_tier_are_measured(
        self, outage_then_recovery: Recording
    ) -> None:
        passed, measured, details, explanation = order(outage_then_recovery, within=0)
        assert not passed and measured == pytest.approx(5.0)  # 0.5 s of static in 10 s
        assert details["skipped"] == 50 and "5.00% skipped fallback (> 1.0%)" in explanation

    def test_answers_from_an_unavailable_tier_are_impossible_and_fail(self) -> None:
        # static_labelled_primary: while the feature store is down, some static answers claim to be primary.
        requests = timeline(
            100,
            60,
            lambda t: (200, "primary" if t < 10 or t >= 20 or round(t * 100) % 10 == 0 else "fallback", 5.0),
        )
        passed, measured, details, explanation = order(recording(requests, faults=(fault(),)))
        assert measured == 0.0 and not passed
        assert details["impossible"] == 80 and "80 answers claim an unavailable tier (primary)" in explanation
        assert order(recording(requests, faults=(fault(),)), max_impossible_share=0.1)[0]

    def test_several_unavailable_tiers_move_the_expected_tier_down(
        self, outage_then_recovery: Recording
    ) -> None:
        passed, measured, details, _ = order(
            outage_then_recovery, unavailable=["primary", "fallback"], within=1
        )
        assert details["expected_tier"] == "rules" and measured == 0.0
        assert (
            not passed and details["impossible"] == 900
        )  # fallback answers (11-20 s) while the fallback is "down"

    def test_answers_without_a_tier_rank_worst(self) -> None:
        requests = timeline(100, 60, lambda t: (200, None if 10 <= t < 11 else "fallback", 5.0))
        assert order(recording(requests, faults=(fault(),)), within=0)[1] == pytest.approx(10.0)

    @pytest.mark.parametrize(
        ("requests", "faults", "reason"),
        [
            (
                pd.DataFrame(timeline(10, 10, lambda t: (200, "primary", 5.0))),
                (fault(),),
                "no answered (2xx) requests",
            ),
            (timeline(10, 60, lambda t: (200, "primary", 5.0)), (), "never applied"),
        ],
        ids=["no-requests-during-fault", "fault-never-applied"],
    )
    def test_nothing_to_measure_fails(
        self, requests: pd.DataFrame, faults: tuple[FaultWindow, ...], reason: str
    ) -> None:
        passed, measured, _, explanation = order(recording(requests, faults=faults))
        assert not passed and measured is None and reason in explanation

    def test_every_tier_unavailable_is_a_ladder_problem(self) -> None:
        spec = FallbackOrder.model_validate(
            {"type": "fallback_order", "fault": "f", "unavailable": ["gold", "silver"]}
        )
        assert spec.ladder_problems(("gold", "silver")) == [
            (("unavailable",), "names every tier (gold, silver); at least one must remain to answer")
        ]
        assert spec.ladder_problems(("gold", "silver", "bronze")) == []
