"""``adversarial_robustness``, ``ood_routing`` and ``metamorphic``: what the target answered to inputs built to fool
it, inputs it has never seen the like of, and inputs transformed in declared ways."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from synthetic import recording, tagged_requests

from mlchaos.experiments.verifiers import run_verifier
from mlchaos.experiments.verifiers.adversarial_robustness import AdversarialRobustness
from mlchaos.experiments.verifiers.base import OutcomeTable
from mlchaos.experiments.verifiers.metamorphic import Metamorphic
from mlchaos.experiments.verifiers.ood_routing import OodRouting


def row(table: OutcomeTable | None, key: str) -> dict[str, Any]:
    assert table is not None
    found = next(r for r in table.rows if r[0] == key)
    return dict(zip(table.columns, found, strict=True))


def adversarial(answers: list[tuple[str, int, str | None, bool]]) -> Any:
    """One request per ``(source, status, prediction, flagged)``; the clean counterpart said ``legit``."""
    return recording(
        tagged_requests(
            [1.0 + i * 0.1 for i in range(len(answers))],
            [f"adversarial:{source}" for source, *_ in answers],
            status=[status for _, status, _, _ in answers],
            prediction=[prediction for _, _, prediction, _ in answers],
            flagged=[flag for *_, flag in answers],
            expected=["legit"] * len(answers),
        )
    )


FLIPS = (
    [("boundary", 200, "fraud", False)] * 2
    + [("boundary", 200, "legit", False)] * 6
    + [("supplied", 200, "fraud", True)] * 2
)


class TestAdversarialRobustness:
    def test_flip_rate_counts_unflagged_changed_predictions(self) -> None:
        spec = AdversarialRobustness(type="adversarial_robustness", max_flip_rate=0.2)
        verdict = run_verifier(spec, adversarial(FLIPS))
        assert verdict.passed and verdict.measured == pytest.approx(20.0)
        assert "✓ flip rate 20.0% (2/10, ≤ 20.0%)" in verdict.explanation
        assert "(flagged 20.0%, not bounded)" in verdict.explanation
        assert row(verdict.table, "boundary")["flips (unflagged)"] == 2
        assert (
            row(verdict.table, "supplied")["flagged"] == 2
            and row(verdict.table, "supplied")["flips (unflagged)"] == 0
        )

    def test_both_conditions_and_which_held(self) -> None:
        spec = AdversarialRobustness(type="adversarial_robustness", max_flip_rate=0.1, min_flagged=0.1)
        verdict = run_verifier(spec, adversarial(FLIPS))
        assert not verdict.passed
        assert "✗ flip rate 20.0%" in verdict.explanation and "✓ flagged 20.0%" in verdict.explanation

    def test_min_flagged_alone_is_the_measure(self) -> None:
        spec = AdversarialRobustness(type="adversarial_robustness", min_flagged=0.5)
        verdict = run_verifier(spec, adversarial(FLIPS))
        assert not verdict.passed and verdict.measured == pytest.approx(20.0)

    def test_rejections_are_not_flips(self) -> None:
        spec = AdversarialRobustness(type="adversarial_robustness", max_flip_rate=0.0)
        verdict = run_verifier(
            spec, adversarial([("boundary", 422, None, False), ("boundary", 200, "legit", False)])
        )
        assert verdict.passed and "1 rejected (4xx)" in verdict.explanation

    def test_source_filter(self) -> None:
        spec = AdversarialRobustness(type="adversarial_robustness", max_flip_rate=0.0, sources=("supplied",))
        assert run_verifier(spec, adversarial(FLIPS)).passed

    def test_needs_a_condition(self) -> None:
        with pytest.raises(ValidationError, match="max_flip_rate, min_flagged or both"):
            AdversarialRobustness(type="adversarial_robustness")

    def test_nothing_sent_is_nothing_measured(self) -> None:
        spec = AdversarialRobustness(type="adversarial_robustness", max_flip_rate=0.1)
        verdict = run_verifier(spec, recording(tagged_requests([1.0], [None])))
        assert (
            not verdict.passed and verdict.measured is None and "nothing was measured" in verdict.explanation
        )

    def test_samples_without_a_clean_counterpart_are_not_judged(self) -> None:
        spec = AdversarialRobustness(type="adversarial_robustness", max_flip_rate=0.1)
        run = recording(tagged_requests([1.0], ["adversarial:supplied"], prediction="fraud"))
        assert run_verifier(spec, run).measured is None


def ood(answers: list[tuple[str, int, str | None, float | None, bool]]) -> Any:
    """One request per ``(kind, status, tier, confidence, flagged)``."""
    return recording(
        tagged_requests(
            [1.0 + i * 0.1 for i in range(len(answers))],
            [f"ood:{kind}" for kind, *_ in answers],
            status=[a[1] for a in answers],
            tier=[a[2] for a in answers],
            confidence=[a[3] for a in answers],
            flagged=[a[4] for a in answers],
        )
    )


SAFE_OOD = [
    ("garbage", 200, "rules", 0.7, False),
    ("extreme", 200, "primary", 0.97, True),
    ("extreme", 200, "fallback", 0.9, False),
    ("impossible", 200, "primary", 0.55, True),
]
CONFIDENTLY_WRONG = [("garbage", 200, "primary", 0.99, False)] * 3 + [
    ("extreme", 200, "primary", 0.95, False)
]


class TestOodRouting:
    def test_flagged_or_routed_is_safe(self) -> None:
        verdict = run_verifier(OodRouting(type="ood_routing"), ood(SAFE_OOD))
        assert verdict.passed and verdict.measured == pytest.approx(100.0)
        assert row(verdict.table, "garbage")["lower tier"] == 1
        assert row(verdict.table, "extreme")["lower tier"] == 1
        assert row(verdict.table, "extreme")["flagged"] == 1
        assert "unflagged answers: 2, median confidence 0.80" in verdict.explanation

    def test_garbage_served_with_high_confidence_fails_with_the_confidence_shown(self) -> None:
        verdict = run_verifier(OodRouting(type="ood_routing"), ood(SAFE_OOD + CONFIDENTLY_WRONG))
        assert not verdict.passed and verdict.measured == pytest.approx(50.0)
        assert "served unsafely: extreme, garbage" in verdict.explanation
        # unflagged: 0.7 and 0.9 (routed), 0.95 and 3 × 0.99 (served unsafely)
        assert verdict.details["median_confidence_unflagged"] == pytest.approx(0.97)
        assert row(verdict.table, "garbage")["served unsafely"] == 3
        assert row(verdict.table, "garbage")["median confidence (unflagged)"] == pytest.approx(0.99)

    def test_422s_to_ood_requests_do_not_pass(self) -> None:
        """A request the service refused never reached a model: rejecting it proves nothing about routing."""
        rejected = [("garbage", 422, None, None, False)] * 8 + [("extreme", 200, "fallback", 0.9, False)] * 2
        verdict = run_verifier(OodRouting(type="ood_routing"), ood(rejected))
        assert not verdict.passed and verdict.measured == pytest.approx(20.0)
        assert verdict.explanation.startswith(
            "the OOD requests do not fit the service's schema: 80% of them were rejected with a 4xx"
        )
        assert "declare request.features" in verdict.explanation
        assert row(verdict.table, "garbage")["rejected 4xx (invalid)"] == 8
        assert verdict.details["rejected_4xx"] == 8 and verdict.details["safe"] == 2

    def test_a_few_rejections_count_against_the_share_without_blaming_the_schema(self) -> None:
        answers = [("extreme", 200, "fallback", 0.9, False)] * 99 + [("garbage", 422, None, None, False)]
        verdict = run_verifier(OodRouting(type="ood_routing", min_share=0.99), ood(answers))
        assert verdict.passed and verdict.measured == pytest.approx(99.0)
        assert "1 rejected with a 4xx: invalid for the service" in verdict.explanation
        assert "do not fit" not in verdict.explanation
        assert not run_verifier(OodRouting(type="ood_routing", min_share=1.0), ood(answers)).passed

    def test_a_low_confidence_answer_is_safe_only_when_asked(self) -> None:
        coin_flip = [("garbage", 200, "primary", 0.52, False)]
        assert not run_verifier(OodRouting(type="ood_routing"), ood(coin_flip)).passed
        assert run_verifier(OodRouting(type="ood_routing", max_confidence=0.6), ood(coin_flip)).passed

    def test_server_errors_are_unsafe(self) -> None:
        verdict = run_verifier(OodRouting(type="ood_routing"), ood([("garbage", 500, None, None, False)]))
        assert not verdict.passed and verdict.details["failed"] == 1

    def test_kind_filter_and_nothing_measured(self) -> None:
        assert run_verifier(
            OodRouting(type="ood_routing", kinds=("impossible",)), ood(SAFE_OOD + CONFIDENTLY_WRONG)
        ).passed
        verdict = run_verifier(OodRouting(type="ood_routing", kinds=("nope",)), ood(SAFE_OOD))
        assert (
            verdict.measured is None and not verdict.passed and "nothing was measured" in verdict.explanation
        )


def metamorphic_pairs(
    pairs: list[tuple[str, str, tuple[int, str, float | None], tuple[int, str, float | None]]],
    tier: str = "primary",
    transformed_tier: str | None = None,
) -> Any:
    """Each ``(relation name, expected effect, original (status, prediction, score), transformed (...))`` as two
    consecutive requests sharing a pair id, tagged as the load tags them."""
    starts, tags, expected, pair, status, prediction, score, tiers = [], [], [], [], [], [], [], []
    for i, (name, effect, original, transformed) in enumerate(pairs):
        for j, (side, answer) in enumerate((("original", original), (effect, transformed))):
            starts.append(1.0 + i * 0.1 + j * 0.01)
            tags.append(f"metamorphic:{name}")
            expected.append(side)
            pair.append(f"p{i}")
            status.append(answer[0])
            prediction.append(answer[1])
            score.append(answer[2])
            tiers.append(transformed_tier if j and transformed_tier else tier)
    return recording(
        tagged_requests(
            starts,
            tags,
            expected=expected,
            pair=pair,
            status=status,
            prediction=prediction,
            score=score,
            tier=tiers,
        )
    )


SAME = (200, "legit", 0.1)
HELD = [
    ("key_order", "same", SAME, SAME),
    ("basket_up", "higher", SAME, (200, "legit", 0.3)),
    ("night_on", "higher", SAME, SAME),
]
SPEC = Metamorphic(type="metamorphic")


class TestMetamorphic:
    def test_relations_that_hold(self) -> None:
        verdict = run_verifier(SPEC, metamorphic_pairs(HELD))
        assert verdict.passed and verdict.measured == 0
        assert row(verdict.table, "basket_up") == {
            "relation": "basket_up",
            "expect": "higher",
            "pairs": 1,
            "judged": 1,
            "violations": 0,
            "incomplete": 0,
            "mixed tiers": 0,
            "no score": 0,
        }

    @pytest.mark.parametrize(
        ("pair", "broken"),
        [
            (("key_order", "same", SAME, (200, "fraud", 0.1)), "key_order"),
            (("whitespace", "same", SAME, (200, "legit", 0.2)), "whitespace"),
            (("basket_up", "higher", SAME, (200, "legit", 0.05)), "basket_up"),
            (("safer", "lower", SAME, (200, "legit", 0.15)), "safer"),
        ],
        ids=["same-prediction-changed", "same-score-moved", "higher-went-down", "lower-went-up"],
    )
    def test_violations_are_counted_and_named(self, pair: Any, broken: str) -> None:
        verdict = run_verifier(SPEC, metamorphic_pairs([*HELD, pair]))
        assert not verdict.passed and verdict.measured == 1
        assert f"1 of 4 judged pairs broke their relation (≤ 0 allowed): {broken}" in verdict.explanation
        assert row(verdict.table, broken)["violations"] == 1

    def test_tolerance_and_allowed_violations(self) -> None:
        nudged = ("whitespace", "same", SAME, (200, "legit", 0.1 + 1e-9))
        assert run_verifier(SPEC, metamorphic_pairs([nudged])).passed
        moved = ("whitespace", "same", SAME, (200, "legit", 0.2))
        assert run_verifier(
            Metamorphic(type="metamorphic", max_violations=1), metamorphic_pairs([moved])
        ).passed

    def test_pairs_with_a_failed_side_are_incomplete_not_violations(self) -> None:
        failed = ("key_order", "same", SAME, (503, None, None))
        verdict = run_verifier(SPEC, metamorphic_pairs([*HELD, failed]))
        assert verdict.passed and verdict.details["incomplete"] == 1
        assert row(verdict.table, "key_order")["incomplete"] == 1

    def test_a_missing_side_is_incomplete(self) -> None:
        run = metamorphic_pairs(HELD)
        lonely = run.requests.iloc[:-1]  # the last transformed request never went out
        verdict = run_verifier(SPEC, recording(lonely))
        assert verdict.passed and verdict.details["incomplete"] == 1 and verdict.details["judged"] == 2
        assert row(verdict.table, "night_on")["expect"] == "?"

    def test_answers_from_different_tiers_are_not_compared(self) -> None:
        verdict = run_verifier(
            SPEC,
            metamorphic_pairs([("key_order", "same", SAME, (200, "fraud", 0.9))], transformed_tier="rules"),
        )
        assert not verdict.passed and verdict.measured is None
        assert "could be judged (0 incomplete, 1 mixed tiers" in verdict.explanation

    def test_only_the_named_relations_are_judged(self) -> None:
        broken = ("channel_pos", "same", SAME, (200, "fraud", 0.1))
        run = metamorphic_pairs([*HELD, broken])
        verdict = run_verifier(Metamorphic(type="metamorphic", relations=("basket_up", "night_on")), run)
        assert verdict.passed and verdict.details["pairs"] == 2
        assert verdict.name == "metamorphic (basket_up, night_on)"
        assert [r[0] for r in verdict.table.rows] == ["basket_up", "night_on"]  # type: ignore[union-attr]
        assert not run_verifier(Metamorphic(type="metamorphic", relations=("channel_pos",)), run).passed

    def test_no_pairs_is_nothing_measured(self) -> None:
        verdict = run_verifier(SPEC, recording(tagged_requests([1.0], [None])))
        assert (
            not verdict.passed and verdict.measured is None and "nothing was measured" in verdict.explanation
        )
