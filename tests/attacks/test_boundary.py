"""The black-box boundary attack against local models whose decision boundary is known exactly."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from mlchaos.experiments.attacks import (
    Answer,
    FeatureRange,
    QueryFailedError,
    boundary_attack,
)

FEATURES = (FeatureRange("amount", 0.0, 1000.0), FeatureRange("risk", 0.0, 1.0))


def linear_rule(body: Mapping[str, Any]) -> float:
    """Fraud iff amount/1000 + risk > 1: in normalised space the boundary is the line u + v = 1."""
    return float(body["amount"]) / 1000.0 + float(body["risk"])


class CountingModel:
    """A query function over a local rule that counts its calls, as a server would count requests."""

    def __init__(self, margin: Callable[[Mapping[str, Any]], float], threshold: float = 1.0) -> None:
        self.margin = margin
        self.threshold = threshold
        self.calls = 0

    def predict(self, body: Mapping[str, Any]) -> str:
        return "fraud" if self.margin(body) > self.threshold else "legit"

    def __call__(self, body: Mapping[str, Any]) -> Answer:
        self.calls += 1
        return Answer(self.predict(body), None)


def clean_inputs() -> list[dict[str, Any]]:
    """Legit inputs 0.075, 0.05, 0.1 and 0.1 (normalised L2 / √2) from the boundary; one fraud input 0.2 across."""
    legit = [
        {"id": f"tx{i}", "amount": amount, "risk": risk, "country": "NL", "hour": 9}
        for i, (amount, risk) in enumerate([(400.0, 0.45), (700.0, 0.2), (100.0, 0.7), (500.0, 0.3)])
    ]
    fraud = [{"id": "tx8", "amount": 900.0, "risk": 0.9, "country": "NL", "hour": 9}]
    return legit + fraud


def distance_to_line(body: Mapping[str, Any]) -> float:
    """The exact normalised distance from a point to the boundary u + v = 1 (divided by √d, d = 2)."""
    return abs(float(body["amount"]) / 1000 + float(body["risk"]) - 1) / math.sqrt(2) / math.sqrt(2)


@pytest.mark.parametrize("budget", [0, 1, 4, 5, 17, 60, 400])
def test_never_queries_more_than_the_budget(budget: int) -> None:
    model = CountingModel(linear_rule)
    result = boundary_attack(clean_inputs(), FEATURES, model, budget=budget, seed=1)
    assert model.calls == result.queries <= budget
    assert result.budget == budget


def test_uses_the_whole_budget_when_there_is_more_to_search() -> None:
    model = CountingModel(linear_rule)
    result = boundary_attack(clean_inputs(), FEATURES, model, budget=300, seed=1)
    assert result.queries == model.calls == 300


def test_the_same_seed_gives_the_same_samples_and_queries() -> None:
    first = boundary_attack(clean_inputs(), FEATURES, CountingModel(linear_rule), budget=200, seed=42)
    second = boundary_attack(clean_inputs(), FEATURES, CountingModel(linear_rule), budget=200, seed=42)
    assert first == second
    assert first.samples


def test_finds_flips_close_to_the_boundary() -> None:
    model = CountingModel(linear_rule)
    result = boundary_attack(clean_inputs(), FEATURES, model, budget=600, seed=3, max_distance=0.5)
    assert {s.clean["id"] for s in result.samples} == {"tx0", "tx1", "tx2", "tx3", "tx8"}
    for sample in result.samples:
        assert model.predict(sample.adversarial) == sample.adversarial_prediction != sample.clean_prediction
        # The shortest flip is the perpendicular to the line; the search gets within 20 % (+ bisection slack).
        assert (
            distance_to_line(sample.clean) <= sample.distance <= 1.2 * distance_to_line(sample.clean) + 0.01
        )


def test_returns_only_real_flips_within_max_distance() -> None:
    model = CountingModel(linear_rule)
    result = boundary_attack(clean_inputs(), FEATURES, model, budget=600, seed=3, max_distance=0.08)
    # tx2 and tx3 lie 0.1 from the boundary: no flip of theirs can be within 0.08.
    assert {s.clean["id"] for s in result.samples} == {"tx0", "tx1"}
    assert all(s.distance <= 0.08 for s in result.samples)
    assert all(model.predict(s.adversarial) != model.predict(s.clean) for s in result.samples)


def test_only_the_attacked_features_move_and_stay_in_range() -> None:
    features = (
        FeatureRange("amount", 0.0, 1000.0),
        FeatureRange("risk", 0.0, 1.0),
        FeatureRange("hour", 0, 23, True),
    )
    model = CountingModel(lambda b: linear_rule(b) + b["hour"] / 230)
    result = boundary_attack(clean_inputs(), features, model, budget=400, seed=5, max_distance=0.5)
    assert result.samples
    for sample in result.samples:
        assert {k: v for k, v in sample.adversarial.items() if k not in ("amount", "risk", "hour")} == {
            k: v for k, v in sample.clean.items() if k not in ("amount", "risk", "hour")
        }
        assert isinstance(sample.adversarial["hour"], int) and 0 <= sample.adversarial["hour"] <= 23
        assert 0 <= sample.adversarial["amount"] <= 1000 and 0 <= sample.adversarial["risk"] <= 1


def test_a_feature_the_input_lacks_is_left_alone() -> None:
    clean = [{**body, "risk": None} if body["id"] == "tx0" else body for body in clean_inputs()]
    model = CountingModel(lambda b: float(b["amount"]) / 1000 + float(b["risk"] or 0.45))
    result = boundary_attack(clean, FEATURES, model, budget=400, seed=2, max_distance=0.5)
    moved = next(s for s in result.samples if s.clean["id"] == "tx0")
    assert moved.adversarial["risk"] is None and moved.adversarial["amount"] > 550


def test_a_target_that_never_changes_its_answer_yields_nothing() -> None:
    model = CountingModel(lambda _: 0.0)
    result = boundary_attack(clean_inputs(), FEATURES, model, budget=100, seed=1)
    assert result.samples == () and model.calls == result.queries <= 100


def test_failed_queries_count_and_are_never_flips() -> None:
    calls = 0

    def broken_for_high_risk(body: Mapping[str, Any]) -> Answer:
        nonlocal calls
        calls += 1
        if float(body["risk"]) > 0.5:
            raise QueryFailedError("HTTP 422")
        return Answer("legit")

    result = boundary_attack(clean_inputs(), FEATURES, broken_for_high_risk, budget=80, seed=1)
    assert result.samples == () and calls == result.queries <= 80


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"features": (), "budget": 10}, "at least one numeric feature"),
        ({"features": FEATURES, "budget": -1}, "cannot be negative"),
    ],
    ids=["no-features", "negative-budget"],
)
def test_refuses_a_meaningless_attack(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        boundary_attack(clean_inputs(), query=CountingModel(linear_rule), seed=0, **kwargs)


def test_a_feature_range_must_not_be_empty() -> None:
    with pytest.raises(ValueError, match="'amount': high"):
        FeatureRange("amount", 5.0, 5.0)
