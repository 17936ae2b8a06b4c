"""Verifiers on a target whose tier ladder is not the reference stack's, and answers from tiers not on it.

The ladder here is ``gold, silver, bronze, default`` (best first). Nothing may assume ``primary`` is the best tier,
and an answer naming a tier the ladder lacks (``gold-ish``, none at all, or ``primary`` on this target) is counted,
named, and never helps a verifier pass.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from synthetic import canaries, fault, recording, requests_frame, tagged_requests, timeline

from mlchaos.experiments.verifiers import VERIFIERS, run_verifier
from mlchaos.experiments.verifiers.base import Phase, Recording, Verdict
from mlchaos.experiments.verifiers.steady_state import SteadyState
from mlchaos.experiments.verifiers.steady_state_holds import steady_state_verdict
from mlchaos.experiments.verifiers.tagged import degraded
from mlchaos.experiments.verifiers.tiers import unknown_tiers

LADDER = ("gold", "silver", "bronze", "default")
HYPOTHESIS = SteadyState(window=10, min_availability=0.99, min_tier_share={"gold": 0.95})


def served(during: Callable[[float], str | None], *, latency_ms: float = 5.0) -> pd.DataFrame:
    """100 requests/s for 60 s: ``gold`` outside the 10-20 s fault, ``during(t)`` inside it."""
    return timeline(100, 60, lambda t: (200, during(t) if 10 <= t < 20 else "gold", latency_ms))


def on_ladder(requests: pd.DataFrame, **options: object) -> Recording:
    return recording(requests, faults=(fault(),), tiers=LADDER, hypothesis=HYPOTHESIS, **options)  # type: ignore[arg-type]


def verdict(params: dict[str, object], recording_: Recording) -> Verdict:
    spec = VERIFIERS[str(params["type"])].spec.model_validate(params)
    return run_verifier(spec, recording_)


def every_tenth(name: str, other: str | None) -> Callable[[float], str | None]:
    """``other`` for one request in ten, ``name`` for the rest."""
    return lambda t: other if round(t * 100) % 10 == 0 else name


class TestAnotherLadder:
    def test_fallback_engaged_counts_the_declared_lower_tiers(self) -> None:
        result = verdict(
            {"type": "fallback_engaged", "fault": "f", "tiers": ["silver", "bronze"], "within": 0.5},
            on_ladder(served(lambda t: "silver" if t >= 10.3 else "gold")),
        )
        assert result.passed and result.measured == pytest.approx(100.0)
        assert result.details["first_allowed_after_s"] == pytest.approx(0.3)

    def test_fallback_order_expects_the_best_tier_after_the_ladders_first(self) -> None:
        result = verdict(
            {"type": "fallback_order", "fault": "f", "within": 0},
            on_ladder(served(every_tenth("silver", "bronze"))),
        )
        assert result.details["expected_tier"] == "silver" and result.name == "fallback_order (f → silver)"
        assert not result.passed and result.measured == pytest.approx(10.0)  # bronze skipped a healthy silver

    def test_a_best_tier_answer_during_its_outage_is_impossible(self) -> None:
        result = verdict(
            {"type": "fallback_order", "fault": "f", "within": 0},
            on_ladder(served(every_tenth("silver", "gold"))),
        )
        assert not result.passed and result.details["impossible"] == 100
        assert "100 answers claim an unavailable tier (gold)" in result.explanation

    @pytest.mark.parametrize(
        ("params", "passed", "measured"),
        [
            ({"tiers": ["silver"], "phase": "fault", "min": 0.85}, True, 90.0),
            ({"tiers": ["gold"], "phase": "fault", "min": 0.5}, False, 0.0),
            ({"tiers": ["default"], "phase": "fault", "max": 0.05}, False, 10.0),
        ],
        ids=["silver-enough", "gold-gone", "default-over-max"],
    )
    def test_tier_share(self, params: dict[str, object], passed: bool, measured: float) -> None:
        result = verdict(
            {"type": "tier_share", **params}, on_ladder(served(every_tenth("silver", "default")))
        )
        assert result.passed is passed and result.measured == pytest.approx(measured)

    def test_mttd_reacts_to_the_first_answer_below_the_ladders_first_tier(self) -> None:
        result = verdict(
            {"type": "mttd", "fault": "f", "max": 1},
            on_ladder(served(lambda t: "bronze" if t >= 10.5 else "gold")),
        )
        assert result.passed and result.measured == pytest.approx(0.505)
        assert result.details["baseline_not_best_share"] == 0.0

    def test_the_steady_state_names_the_ladders_tiers(self) -> None:
        result = steady_state_verdict(on_ladder(served(lambda t: "silver")), Phase.BASELINE)
        assert result.passed and result.details["share.gold"] == 1.0
        assert result.target == "availability ≥ 99.00%, gold share ≥ 95%"

    def test_load_shedding_counts_a_named_tier_of_this_ladder(self) -> None:
        requests = served(every_tenth("gold", "default"))
        params = {"type": "load_shedding", "fault": "f", "admitted_p99_ms": 100}
        assert verdict(params, on_ladder(requests)).details["shed_share"] == 0.0
        shed = verdict({**params, "shed_tiers": ["default"]}, on_ladder(requests))
        assert shed.details["shed_share"] == pytest.approx(0.1)

    def test_latency_of_one_tier(self) -> None:
        slow_bronze = timeline(
            100, 60, lambda t: (200, "bronze", 300.0) if 10 <= t < 11 else (200, "gold", 5.0)
        )
        result = verdict(
            {"type": "latency", "phase": "fault", "max_ms": 100, "tiers": ["bronze"]}, on_ladder(slow_bronze)
        )
        assert not result.passed and result.details["requests"] == 100 and result.measured == 300.0

    def test_quality_of_one_tier(self) -> None:
        answers = pd.concat(
            [
                canaries(40, correct=np.ones(40, bool), tier="gold", at_s=12.0),
                canaries(40, correct=np.arange(40) % 2 == 0, tier="silver", at_s=13.0),
            ]
        )
        result = verdict({"type": "quality", "tiers": ["silver"], "min_accuracy": 0.9}, on_ladder(answers))
        assert (
            not result.passed and result.measured == pytest.approx(50.0) and result.details["canaries"] == 40
        )

    def test_degraded_means_any_tier_after_the_ladders_first(self) -> None:
        tiers = ["gold", "silver", "bronze", "default", "primary", None]
        requests = tagged_requests(range(6), [None] * 6, tier=tiers)
        assert degraded(requests, LADDER).tolist() == [False, True, True, True, False, False]
        failed = requests.assign(status=500)
        assert not degraded(failed, LADDER).any()  # only answers (2xx) are degraded answers


NOT_ON_LADDER = every_tenth("gold-ish", None)
"""Every answer during the fault from a tier the ladder lacks: 900 ``gold-ish``, 100 naming none."""


@pytest.mark.parametrize(
    "params",
    [
        {"type": "fallback_engaged", "fault": "f", "tiers": ["silver"], "within": 0, "min_share": 0.0},
        {"type": "fallback_order", "fault": "f", "within": 0, "max_skip_share": 0.5},
        {"type": "tier_share", "tiers": ["silver"], "phase": "fault", "min": 0.5},
        {"type": "tier_share", "tiers": ["default"], "phase": "fault", "max": 0.5},
        {"type": "mttd", "fault": "f", "max": 5},
    ],
    ids=["fallback_engaged", "fallback_order", "tier_share-min", "tier_share-max", "mttd"],
)
def test_answers_from_tiers_off_the_ladder_are_counted_named_and_never_pass(
    params: dict[str, object],
) -> None:
    result = verdict(params, on_ladder(served(NOT_ON_LADDER)))
    named = "gold-ish (900), none (100)"
    assert result.details["unknown_tiers"] == named and result.details["unknown_tier_answers"] == 1000
    sentence = f"1000 answers from a tier not on the target's ladder (gold, silver, bronze, default): {named}"
    assert sentence in result.explanation
    if params["type"] != "fallback_engaged":  # its min_share 0 passes on nothing at all: still 0 % served
        assert not result.passed
    else:
        assert result.measured == 0.0


def test_the_steady_state_counts_no_tier_for_an_answer_off_the_ladder() -> None:
    """The reference stack's name on a target that does not use it is as unknown as any other."""
    requests = timeline(100, 60, lambda t: (200, "primary" if t >= 50 else "gold", 5.0))
    result = steady_state_verdict(on_ladder(requests), Phase.AFTER)
    assert not result.passed and result.details["share.gold"] == 0.0
    assert result.details["unknown_tiers"] == "primary (1000)"
    assert "gold share 0.0% < 95%" in result.explanation and "primary (1000)" in result.explanation


def test_a_verdict_lists_the_most_frequent_unknown_tiers_and_how_many_more() -> None:
    names = [f"t{i}" for i in range(7) for _ in range(7 - i)]  # t0 seven times ... t6 once
    unknown = unknown_tiers(requests_frame(np.arange(len(names)), tier=np.array(names, dtype=object)), LADDER)
    assert unknown.total == len(names)
    assert unknown.named() == "t0 (7), t1 (6), t2 (5), t3 (4), t4 (3) and 2 more names"


def test_answers_on_the_ladder_add_nothing_to_a_verdict() -> None:
    result = verdict(
        {"type": "tier_share", "tiers": ["silver"], "phase": "fault", "min": 0.5},
        on_ladder(served(lambda t: "silver")),
    )
    assert "unknown_tiers" not in result.details and "not on the target's ladder" not in result.explanation
