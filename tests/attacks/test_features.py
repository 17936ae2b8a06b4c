"""Which features the boundary attack moves by default: the numeric features of the service's request schema,
over the range of normal traffic — here a checkout service's schema, unlike the reference stack's."""

from __future__ import annotations

import pytest

from mlchaos.experiments.attacks import FeatureRange
from mlchaos.experiments.attacks.features import schema_ranges, unknown_features
from mlchaos.experiments.inputs.schema import Feature, FeatureType, RequestSchema

NUMBER, INTEGER = FeatureType.NUMBER, FeatureType.INTEGER
CHECKOUT = RequestSchema(
    features={
        "basket_id": Feature(type=FeatureType.ID),
        "value_eur": Feature(type=NUMBER, min=0, max=50_000, typical=(5, 905)),
        "basket_items": Feature(type=INTEGER, min=1, max=99, typical=(1, 12)),
        "night": Feature(type=FeatureType.BOOL),
        "channel": Feature(type=FeatureType.CATEGORY, choices=("web", "pos")),
        "customer.tenure_days": Feature(type=INTEGER, min=0, max=20_000),
        "discount": Feature(type=NUMBER, typical=(0.1, 0.3)),
        "fee": Feature(type=NUMBER, min=0),
        "version": Feature(type=INTEGER, typical=(3, 3)),
        "promo": Feature(type=NUMBER, min=0, max=1, typical=(0.5, 0.5)),
    }
)


def test_the_numeric_features_over_their_typical_range_widened_within_min_and_max() -> None:
    ranges = {r.name: r for r in schema_ranges(CHECKOUT)}
    # value_eur: 5..905 widened by 90 each side, but never below its min of 0
    assert ranges["value_eur"] == FeatureRange("value_eur", 0, 995)
    # an integer feature keeps whole bounds: 1..12 widened by 1.1 → 1 (its min) .. 13
    assert ranges["basket_items"] == FeatureRange("basket_items", 1, 13, integer=True)
    # no typical range: the declared min..max
    assert ranges["customer.tenure_days"] == FeatureRange("customer.tenure_days", 0, 20_000, integer=True)
    # typical only: widened freely
    assert ranges["discount"].low == pytest.approx(0.08) and ranges["discount"].high == pytest.approx(0.32)
    # constant in normal traffic: its min..max
    assert ranges["promo"] == FeatureRange("promo", 0, 1)
    # fee has no upper bound, version never varies and has no bounds: nothing to measure a small change by
    assert list(ranges) == ["value_eur", "basket_items", "customer.tenure_days", "discount", "promo"]


def test_a_schema_without_numeric_features_gives_nothing_to_attack() -> None:
    flags = RequestSchema(features={"night": Feature(type=FeatureType.BOOL)})
    assert schema_ranges(flags) == () and schema_ranges(RequestSchema()) == ()


def test_named_features_must_be_numeric_features_of_the_schema() -> None:
    assert unknown_features(["value_eur", "customer.tenure_days"], CHECKOUT) == []
    missing, category = unknown_features(["amount", "channel"], CHECKOUT)
    numeric = "value_eur, basket_items, customer.tenure_days, discount, fee, version, promo"
    assert missing == f"no feature 'amount' in the request schema; its numeric features: {numeric}"
    assert category.startswith("feature 'channel' is category, not a number")
    assert unknown_features(["anything"], RequestSchema()) == []  # nothing known: nothing to check against
