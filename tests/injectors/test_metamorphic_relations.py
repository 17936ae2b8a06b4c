"""Metamorphic relations as a scenario declares them, applied to a service unlike the reference stack: a basket
checkout scorer whose requests carry ``value_eur`` (number 0..50 000), ``basket_items`` (integer), ``night``
(bool), ``channel`` (category web/pos/app) and a nested ``customer.tenure_days``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from mlchaos.experiments.inputs.metamorphic import pair
from mlchaos.experiments.inputs.relations import Relation, relation_problems
from mlchaos.experiments.inputs.schema import Feature, FeatureType

FEATURES = {
    "value_eur": Feature(type=FeatureType.NUMBER, min=0, max=50_000, typical=(5, 900)),
    "basket_items": Feature(type=FeatureType.INTEGER, min=1, max=99),
    "night": Feature(type=FeatureType.BOOL),
    "channel": Feature(type=FeatureType.CATEGORY, choices=("web", "pos", "app")),
    "customer.tenure_days": Feature(type=FeatureType.INTEGER, min=0),
    "basket_id": Feature(type=FeatureType.ID),
}
BODY = {
    "basket_id": "b-17",
    "value_eur": 49_800.5,
    "basket_items": 3,
    "night": True,
    "channel": "app",
    "customer": {"tenure_days": 40, "segment": "new"},
}


def relation(**fields: Any) -> Relation:
    made: Relation = TypeAdapter(Relation).validate_python({"name": "r", "expect": "same", **fields})
    return made


def sides(declared: Relation, body: dict[str, Any] = BODY) -> tuple[Any, Any, bytes, bytes]:
    made = pair(declared, body, "f/0/1", FEATURES)
    assert made is not None
    original, transformed = made
    return json.loads(original.body), json.loads(transformed.body), original.body, transformed.body


def test_a_pair_is_tagged_with_the_relation_name_and_expects_its_effect() -> None:
    made = pair(
        relation(name="value_up", operation="add", field="value_eur", value=10, expect="higher"), BODY, "p/1"
    )
    assert made is not None
    original, transformed = made
    assert (original.input, original.pair, original.expected) == ("metamorphic:value_up", "p/1", "original")
    assert (transformed.input, transformed.pair, transformed.expected) == (
        "metamorphic:value_up",
        "p/1",
        "higher",
    )


def test_add_is_clamped_to_the_features_max() -> None:
    original, transformed, _, _ = sides(relation(operation="add", field="value_eur", value=500))
    assert original["value_eur"] == 49_800.5
    assert transformed["value_eur"] == 50_000  # not 50 300.5: the service's contract ends at 50 000
    assert {k: v for k, v in transformed.items() if k != "value_eur"} == {
        k: v for k, v in BODY.items() if k != "value_eur"
    }


def test_multiply_is_clamped_to_the_features_min() -> None:
    _, transformed, _, _ = sides(relation(operation="multiply", field="value_eur", factor=-2))
    assert transformed["value_eur"] == 0


def test_add_on_an_integer_feature_stays_an_integer() -> None:
    _, transformed, _, raw = sides(relation(operation="add", field="basket_items", value=1.6))
    assert transformed["basket_items"] == 5 and b'"basket_items":5' in raw


def test_a_nested_feature_moves_inside_its_object() -> None:
    _, transformed, _, _ = sides(relation(operation="add", field="customer.tenure_days", value=-100))
    assert transformed["customer"] == {"tenure_days": 0, "segment": "new"}  # clamped at min 0


def test_set_writes_from_into_the_original_and_to_into_the_transformed() -> None:
    original, transformed, _, _ = sides(relation(operation="set", field="night", **{"from": False}, to=True))
    assert (original["night"], transformed["night"]) == (False, True)  # the clean body said true: from wins
    original, transformed, _, _ = sides(
        relation(operation="set", field="channel", **{"from": "web"}, to="pos")
    )
    assert (original["channel"], transformed["channel"]) == ("web", "pos")


def test_as_float_sends_a_whole_number_then_the_same_number_with_a_decimal_point() -> None:
    _, _, raw_original, raw_transformed = sides(relation(operation="as_float", field="value_eur"))
    assert b'"value_eur":49800,' in raw_original and b'"value_eur":49800.0,' in raw_transformed
    assert raw_original.replace(b"49800", b"49800.0") == raw_transformed


def test_whole_body_operations_keep_the_json_equal() -> None:
    for operation in ("reorder_keys", "pretty_print"):
        original, transformed, raw_original, raw_transformed = sides(relation(operation=operation))
        assert original == transformed == BODY and raw_original != raw_transformed
    _, _, _, reordered = sides(relation(operation="reorder_keys"))
    assert reordered.startswith(b'{"customer":{"segment":"new","tenure_days":40},"channel"')


def test_a_request_without_a_number_in_the_field_goes_out_clean() -> None:
    """The pair needs the value to start from: none is invented."""
    for body in ({k: v for k, v in BODY.items() if k != "basket_items"}, {**BODY, "basket_items": None}):
        assert pair(relation(operation="add", field="basket_items", value=1), body, "p", FEATURES) is None
    assert pair(relation(operation="as_float", field="channel"), BODY, "p", FEATURES) is None


def test_without_a_schema_nothing_is_clamped_and_whole_numbers_stay_whole() -> None:
    made = pair(relation(operation="add", field="basket_items", value=200), BODY, "p")
    assert made is not None and json.loads(made[1].body)["basket_items"] == 203


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"operation": "add", "field": "value_eur", "value": 0}, "adding 0 changes nothing"),
        ({"operation": "multiply", "field": "value_eur", "factor": 1}, "multiplying by 1 changes nothing"),
        ({"operation": "set", "field": "night", "from": True, "to": True}, "from and to are both True"),
        ({"operation": "add", "value": 1}, "field"),
        ({"operation": "set", "field": "night", "to": True}, "from"),
        ({"operation": "add", "field": "value eur", "value": 1}, "pattern"),
    ],
)
def test_a_relation_that_changes_nothing_or_misses_a_part_is_refused(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        relation(**fields)


def test_set_keeps_flags_flags_and_numbers_numbers() -> None:
    declared = relation(operation="set", field="night", **{"from": False}, to=1)
    assert declared.from_ is False and declared.to == 1 and type(declared.to) is int  # type: ignore[union-attr]


def problems_of(
    *declared: dict[str, Any], score: str | None = "outputs.0.data.1"
) -> list[tuple[int, str, str]]:
    relations = [relation(name=f"r{i}", **fields) for i, fields in enumerate(declared)]
    return [
        (p.index, p.key, p.message)
        for p in relation_problems(relations, features=FEATURES, score_field=score)
    ]


def test_a_relation_on_an_unknown_feature_names_the_known_ones() -> None:
    [(index, key, message)] = problems_of(
        {"operation": "reorder_keys"}, {"operation": "add", "field": "value", "value": 1}
    )
    assert (index, key) == (1, "field")
    assert "no feature 'value' in the request schema" in message
    assert "its features: value_eur, basket_items, night, channel, customer.tenure_days, basket_id" in message


def test_higher_and_lower_need_the_targets_score() -> None:
    found = problems_of(
        {"operation": "set", "field": "night", "from": False, "to": True, "expect": "higher"},
        {"operation": "reorder_keys", "expect": "same"},
        {"operation": "add", "field": "basket_items", "value": -1, "expect": "lower"},
        score=None,
    )
    assert [(index, key) for index, key, _ in found] == [(0, "expect"), (2, "expect")]
    assert "expects a higher score, and the target declares no response.score" in found[0][2]
    assert problems_of({"operation": "add", "field": "basket_items", "value": 1, "expect": "higher"}) == []


@pytest.mark.parametrize(
    ("fields", "key", "message"),
    [
        (
            {"operation": "add", "field": "night", "value": 1},
            "operation",
            "add needs a number or integer feature",
        ),
        ({"operation": "as_float", "field": "channel"}, "operation", "'channel' is category"),
        ({"operation": "set", "field": "channel", "from": "web", "to": "phone"}, "to", "none of the choices"),
        ({"operation": "set", "field": "night", "from": 0, "to": 1}, "from", "not true or false"),
        ({"operation": "set", "field": "basket_items", "from": 1, "to": 1.5}, "to", "not a whole number"),
        ({"operation": "set", "field": "value_eur", "from": 1, "to": 60_000}, "to", "outside [0, 50000]"),
        ({"operation": "set", "field": "basket_id", "from": 1, "to": "b-2"}, "from", "not a string"),
    ],
)
def test_an_operation_that_does_not_fit_the_feature_is_named(
    fields: dict[str, Any], key: str, message: str
) -> None:
    [(index, found_key, found)] = problems_of(fields)
    assert (index, found_key) == (0, key) and message in found, found


def test_with_no_schema_known_fields_are_not_checked() -> None:
    declared = [relation(operation="add", field="anything", value=1)]
    assert relation_problems(declared, features={}, score_field=None) == []
