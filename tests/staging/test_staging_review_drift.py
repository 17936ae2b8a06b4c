"""The OOD score, the review policy and the drift monitor in-process (fake clock, generated streams): the
statistics behind the gateway's review flags and drift alarm, over far more requests than a real stack
could be sent in a test."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from scipy.stats import ks_2samp

from mlchaos.staging.data import CANARY_REQUEST, FRAUD, LEGIT, Transaction, sample_requests, training_data
from mlchaos.staging.gateway.chain import Answer
from mlchaos.staging.gateway.drift import DriftMonitor, DriftState, ks_distance
from mlchaos.staging.gateway.review import ReviewPolicy
from mlchaos.staging.models import FeatureError, OodDetector, request_vector
from mlchaos.staging.options import DriftOptions, ReviewOptions
from mlchaos.staging.schemas import ReviewReason, Tier

REVIEW = ReviewOptions()


@pytest.fixture(scope="module")
def training() -> list[Transaction]:
    return training_data(7)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# -- OOD score ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [7, 11])
def test_clean_traffic_and_the_canary_are_in_distribution(seed: int) -> None:
    ood = OodDetector.fit(seed)
    scores = [ood.score(body) for body, _ in sample_requests(3000, seed=3, world_seed=seed, missing_rate=0.1)]
    assert max(scores) < REVIEW.ood_threshold
    assert np.mean([s == 0.0 for s in scores]) > 0.99
    assert (
        ood.score(CANARY_REQUEST) < REVIEW.ood_threshold
    )  # extreme, but fraud as the training data knows it


def test_ood_score_grows_with_the_mahalanobis_distance_beyond_the_training_edge() -> None:
    ood = OodDetector.fit(7)
    amounts = [100.0, 5_000.0, 50_000.0, 5e5, 5e8]
    scores = [ood.score({"entity_id": "u0001", "amount": a, "merchant_risk": 0.3}) for a in amounts]
    assert scores == sorted(scores) and scores[0] == 0.0 and scores[-1] == 1.0
    distance, edge = ood.distance({"entity_id": "u0001", "amount": 5e5, "merchant_risk": 0.3})
    assert ood.score({"entity_id": "u0001", "amount": 5e5, "merchant_risk": 0.3}) == pytest.approx(
        1 - np.exp(-(distance - edge)), abs=1e-4
    )
    # Unusual in two features at once is further out than in either alone.
    both = ood.score({"entity_id": "u0001", "amount": 3000.0, "merchant_risk": 0.95})
    assert both > ood.score({"entity_id": "u0001", "amount": 3000.0, "merchant_risk": 0.3})
    assert both > ood.score({"entity_id": "u0001", "amount": 40.0, "merchant_risk": 0.95})
    # Without merchant_risk the amount alone is measured (no imputed value pulls it inwards).
    assert ood.score({"entity_id": "u0001", "amount": 5e8}) == 1.0


@pytest.mark.parametrize(
    "field", [{"amount": float("nan")}, {"amount": None}, {"amount": "12"}, {"hour": True}, {"is_foreign": 1}]
)
def test_the_models_refuse_features_that_are_not_finite_numbers(field: dict[str, Any]) -> None:
    with pytest.raises((FeatureError, TypeError)):
        request_vector({"entity_id": "u0001", "amount": 10.0, **field})


# -- review policy --------------------------------------------------------------------------------


def _answer(score: float, ood_score: float = 0.0, tier: Tier = Tier.RULES) -> Answer:
    label = FRAUD if score >= 0.5 else LEGIT
    return Answer(label, max(score, 1 - score), score, tier, ood_score=ood_score)


def test_ood_answers_are_flagged_and_capped_keeping_the_prediction() -> None:
    policy = ReviewPolicy(REVIEW)
    fraud = policy.review(_answer(0.97, ood_score=0.8))
    assert (fraud.prediction, fraud.confidence, fraud.score) == (FRAUD, 0.6, 0.6)
    assert fraud.review and fraud.review_reason is ReviewReason.OOD
    legit = policy.review(_answer(0.1, ood_score=REVIEW.ood_threshold))
    assert (legit.prediction, legit.confidence, legit.score) == (LEGIT, 0.6, 0.4)
    unsure = policy.review(_answer(0.52, ood_score=0.9))  # already below the cap: left as is, reason ood
    assert (unsure.confidence, unsure.review_reason) == (0.52, ReviewReason.OOD)
    assert policy.skip_reason(Tier.PRIMARY, 0.9) and policy.skip_reason(Tier.FALLBACK, 0.9)
    assert policy.skip_reason(Tier.RULES, 0.9) is None and policy.skip_reason(Tier.PRIMARY, 0.4) is None


def test_low_confidence_answers_are_flagged_and_others_not() -> None:
    policy = ReviewPolicy(REVIEW)
    assert policy.review(_answer(0.47)).review_reason is ReviewReason.LOW_CONFIDENCE
    assert policy.review(_answer(0.2)).review is False
    assert policy.review(_answer(0.45)).review is False  # exactly at review_confidence: not below it


def test_disabled_policy_neither_routes_nor_flags() -> None:
    policy = ReviewPolicy(REVIEW, enabled=False)
    answer = _answer(0.97, ood_score=1.0, tier=Tier.PRIMARY)
    assert policy.review(answer) == answer and policy.skip_reason(Tier.PRIMARY, 1.0) is None
    assert policy.review(_answer(0.5)).review is False


# -- drift monitor --------------------------------------------------------------------------------


@pytest.mark.parametrize("discrete", [False, True])
def test_ks_distance_is_the_two_sample_statistic(discrete: bool) -> None:
    rng = np.random.default_rng(3)
    window, reference = rng.normal(0.3, 1, 300), rng.normal(0, 1, 5000)
    if discrete:  # ties, as in hour and is_foreign
        window, reference = np.round(window), np.round(reference)
    expected = ks_2samp(window, reference).statistic
    assert ks_distance(window, np.sort(reference)) == pytest.approx(expected, abs=1e-12)


def _monitor(
    training: list[Transaction], clock: FakeClock, options: DriftOptions | None = None
) -> DriftMonitor:
    return DriftMonitor(training, options or DriftOptions(), clock=clock)


def _feed(
    monitor: DriftMonitor, clock: FakeClock, bodies: Iterator[dict[str, Any]] | list[dict[str, Any]]
) -> Iterator[DriftState]:
    for body in bodies:
        clock.now += 0.05  # 20 requests/s
        monitor.observe(body)
        yield monitor.refresh()


def _clean(n: int, seed: int) -> list[dict[str, Any]]:
    return [body for body, _ in sample_requests(n, seed=seed, missing_rate=0.05)]


def _shifted(n: int, seed: int, share: float, shift: str) -> Iterator[dict[str, Any]]:
    coin = random.Random(seed)
    for body in _clean(n, seed):
        if coin.random() >= share:
            yield body
        elif shift == "amount x 5":
            yield {**body, "amount": body["amount"] * 5}
        elif shift == "merchant_risk + 0.4":
            risk = body.get("merchant_risk")
            yield body if risk is None or risk > 0.6 else {**body, "merchant_risk": risk + 0.4}
        else:  # OOD garbage, every field in range
            yield {
                "entity_id": body["entity_id"],
                "amount": coin.uniform(0, 1e6),
                "hour": coin.randrange(24),
                "merchant_risk": coin.random(),
                "is_foreign": coin.random() < 0.5,
            }


def test_clean_traffic_never_alarms_with_the_default_options(training: list[Transaction]) -> None:
    clock = FakeClock()
    monitor = _monitor(training, clock)
    states = list(_feed(monitor, clock, _clean(12_000, seed=21)))
    highest = max(max(s.scores.values()) for s in states)
    assert not any(s.alarm for s in states), highest
    assert highest > 1.0  # the scores do move: this is a real test, not a dead monitor


@pytest.mark.parametrize("shift", ["amount x 5", "merchant_risk + 0.4", "OOD garbage"])
def test_a_shift_of_30_percent_of_the_traffic_alarms_within_a_window(
    training: list[Transaction], shift: str
) -> None:
    options = DriftOptions()
    clock = FakeClock()
    monitor = _monitor(training, clock, options)
    assert not any(s.alarm for s in _feed(monitor, clock, _clean(options.window, seed=22)))
    stream = _feed(monitor, clock, _shifted(2 * options.window, 23, 0.3, shift))
    count = next((n for n, state in enumerate(stream, 1) if state.alarm), None)
    assert count is not None, "no alarm after two windows of the shifted mix"
    assert monitor.refresh().onsets == 1
    assert count <= options.window  # measured 150..350: ~10 s at 35 requests/s


def test_alarm_onsets_are_counted_once_per_episode(training: list[Transaction]) -> None:
    options = DriftOptions(window=100, min_samples=50)
    clock = FakeClock()
    monitor = _monitor(training, clock, options)
    for episode in (1, 2):
        states = list(_feed(monitor, clock, _shifted(options.window, episode, 1.0, "amount x 5")))
        assert states[-1].alarm and states[-1].onsets == episode
        states = list(_feed(monitor, clock, _clean(2 * options.window, seed=30 + episode)))
        assert not states[-1].alarm and states[-1].onsets == episode


def test_scores_wait_for_min_samples_and_recompute_at_most_every_interval(
    training: list[Transaction],
) -> None:
    options = DriftOptions(window=100, min_samples=50, interval_s=1.0)
    clock = FakeClock()
    seen: list[tuple[DriftState, bool]] = []
    monitor = DriftMonitor(training, options, clock=clock, on_update=lambda s, onset: seen.append((s, onset)))
    shifted = list(_shifted(options.window, 5, 1.0, "amount x 5"))
    for body in shifted[: options.min_samples - 1]:
        clock.now += 1.0
        monitor.observe(body)
    assert monitor.refresh().scores["amount"] == 0.0 and not monitor.refresh().alarm
    for body in shifted[options.min_samples - 1 :]:
        monitor.observe(body)  # the clock stands still: no recomputation
    assert monitor.refresh().scores["amount"] == 0.0
    updates = len(seen)
    clock.now += 1.0
    state = monitor.refresh()
    assert state.alarm and state.scores["amount"] > options.threshold
    assert len(seen) == updates + 1 and seen[-1] == (state, True)
