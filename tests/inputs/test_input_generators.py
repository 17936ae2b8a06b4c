"""Out-of-distribution kinds, mutators and covariate shift built from a request schema unlike the reference
stack's: what they send fits the schema where it must (OOD, shift) and breaks it where it should (mutators), with
the tags and contract expectations a verifier relies on."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest
from input_schemas import checkout_rows, checkout_schema, misfits, nested, nested_schema
from pydantic import ValidationError

from mlchaos.experiments.inputs import CorruptSend, CovariateSend, InputWindow, Mutator, OodKind, OodSend
from mlchaos.experiments.inputs.contract import InputContract
from mlchaos.experiments.inputs.inference import resolve_schema
from mlchaos.experiments.inputs.mutators import EXTRA_FIELD, mutate
from mlchaos.experiments.inputs.paths import MISSING, delete_path, get_path, rename_path, set_path
from mlchaos.experiments.inputs.schema import Feature, FeatureType, RequestSchema
from mlchaos.experiments.inputs.shift import covariate, ood

ROWS = checkout_rows()
SCHEMA = checkout_schema(ROWS)


def made(
    kind: OodKind, rows: list[dict[str, Any]] = ROWS, schema: RequestSchema = SCHEMA
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(clean, OOD) body pairs, one per row, tags checked."""
    rng = random.Random(5)
    pairs = []
    for row in rows:
        out = ood(kind, row, schema, rng)
        assert out.input == f"ood:{kind.value}" and out.content_type == "application/json"
        pairs.append((row, json.loads(out.body)))
    return pairs


class TestOutOfDistribution:
    @pytest.mark.parametrize("kind", list(OodKind))
    def test_every_kind_fits_the_schema(self, kind: OodKind) -> None:
        for _, body in made(kind):
            assert misfits(body, SCHEMA) == [], body

    def test_extreme_goes_far_beyond_the_typical_range_within_the_declared_bounds(self) -> None:
        value, basket = SCHEMA.features["value_eur"], SCHEMA.features["basket_items"]
        assert value.typical is not None and basket.typical is not None
        for clean, body in made(OodKind.EXTREME):
            # room to 50000: from half of it beyond the typical high end up to the bound
            assert value.typical[1] + (50_000 - value.typical[1]) / 2 <= body["value_eur"] <= 50_000
            assert basket.typical[1] < body["basket_items"] <= 100 and isinstance(body["basket_items"], int)
            assert {k: body[k] for k in ("customer_ref", "channel", "night")} == {
                k: clean[k] for k in ("customer_ref", "channel", "night")
            }

    def test_an_unbounded_feature_goes_at_least_a_hundred_typical_spans_out(self) -> None:
        schema = resolve_schema(RequestSchema(), bodies=ROWS, openapi=None, predict_path="/score")
        value = schema.features["value_eur"]
        assert value.typical is not None
        span = value.typical[1] - value.typical[0]
        highs = [body["value_eur"] for _, body in made(OodKind.EXTREME, schema=schema)]
        assert min(highs) >= value.typical[1] + 100 * span * 0.999999
        assert max(highs) <= value.typical[1] + 1e6 * span * 1.000001

    def test_impossible_takes_every_feature_to_its_implausible_side(self) -> None:
        value, basket = SCHEMA.features["value_eur"].typical, SCHEMA.features["basket_items"].typical
        assert value is not None and basket is not None
        for clean, body in made(OodKind.IMPOSSIBLE):
            far_value = value[1] if clean["value_eur"] < sum(value) / 2 else value[0]
            far_basket = basket[1] if clean["basket_items"] < sum(basket) / 2 else basket[0]
            assert (body["value_eur"], body["basket_items"]) == (far_value, far_basket)
            assert body["night"] is not clean["night"]
            assert body["channel"] == "phone", "the rarest channel"
            assert body["customer_ref"] == clean["customer_ref"]

    def test_garbage_spans_the_whole_valid_range_with_unknown_customers(self) -> None:
        known = {row["customer_ref"] for row in ROWS}
        bodies = [body for _, body in made(OodKind.GARBAGE)]
        assert not known & {body["customer_ref"] for body in bodies}
        value = SCHEMA.features["value_eur"].typical
        assert value is not None
        values = [body["value_eur"] for body in bodies]
        assert max(values) > value[1] * 2 and min(values) < 1, "log-uniform over 0.01..50000"
        assert set(Counter(body["channel"] for body in bodies)) == {"web", "app", "pos", "phone"}
        assert max(body["basket_items"] for body in bodies) > 90

    def test_nested_bodies_are_shifted_in_place(self) -> None:
        schema = nested_schema()
        rows = [nested(row) for row in ROWS[:50]]
        for kind in OodKind:
            for clean, body in made(kind, rows, schema):
                assert misfits(body, schema) == []
                assert set(body) == set(clean) and len(body["context"]["basket"]) == 1
        extreme = [body for _, body in made(OodKind.EXTREME, rows, schema)]
        assert all(body["context"]["basket"][0]["items"] > 40 for body in extreme)

    def test_a_schema_without_room_or_numbers_refuses_extreme_before_anything_is_sent(self) -> None:
        tight = RequestSchema(
            features={"score": Feature(type=FeatureType.NUMBER, min=0, max=1, typical=(0, 0.98))}
        )
        [(loc, message)] = OodSend(kinds=(OodKind.IMPOSSIBLE, OodKind.EXTREME)).problems(tight)
        assert loc == ("ood", 1) and "'extreme' needs a numeric feature with a typical range" in message
        words = RequestSchema(features={"channel": Feature(type=FeatureType.CATEGORY, choices=("a", "b"))})
        [(loc, message)] = OodSend(kinds=(OodKind.EXTREME,)).problems(words)
        assert "the request schema's features: channel (category)" in message
        assert OodSend(kinds=(OodKind.IMPOSSIBLE, OodKind.GARBAGE)).problems(words) == []


def corrupt(*mutators: Mutator, **fields: Any) -> CorruptSend:
    return CorruptSend(mutators=mutators, **fields)


def sent(
    mutator: Mutator, send: CorruptSend, schema: RequestSchema = SCHEMA, row: dict[str, Any] = ROWS[0]
) -> Any:
    out = mutate(mutator, row, send, schema)
    assert out.input == f"corrupt:{mutator.value}"
    return out


class TestMutators:
    def test_field_level_mutators_corrupt_the_first_numeric_feature(self) -> None:
        row = ROWS[0]
        send = corrupt(*Mutator)
        assert json.loads(sent(Mutator.NULL_FIELD, send).body)["value_eur"] is None
        assert b'"value_eur":NaN' in sent(Mutator.NAN, send).body
        assert isinstance(json.loads(sent(Mutator.WRONG_TYPE, send).body)["value_eur"], str)
        assert json.loads(sent(Mutator.OUT_OF_RANGE, send).body)["value_eur"] > 50_000
        assert "value_eur" not in json.loads(sent(Mutator.MISSING_FIELD, send).body)
        renamed = json.loads(sent(Mutator.RENAMED_FIELD, send).body)
        assert list(renamed) == ["customer_ref", "value_eur_v2", "channel", "night", "basket_items"]
        assert json.loads(sent(Mutator.EXTRA_FIELD, send).body) == {**row, EXTRA_FIELD: 1.0}

    def test_control_characters_go_into_the_first_string_feature(self) -> None:
        body = json.loads(sent(Mutator.CONTROL_CHARS, corrupt(Mutator.CONTROL_CHARS)).body)
        assert "\x00" in body["customer_ref"] and body["value_eur"] == ROWS[0]["value_eur"]
        numbers = RequestSchema(features={"n": Feature(type=FeatureType.INTEGER)})
        body = json.loads(sent(Mutator.CONTROL_CHARS, corrupt(Mutator.CONTROL_CHARS), numbers, {"n": 3}).body)
        assert "\x00" in body["n"], "without a string feature, into the corrupted field as a string"

    def test_the_scenario_may_name_another_field_even_a_nested_one(self) -> None:
        schema, row = nested_schema(), nested(ROWS[0])
        send = corrupt(*Mutator, field="context.basket.0.items")
        assert json.loads(sent(Mutator.NULL_FIELD, send, schema, row).body)["context"]["basket"] == [
            {"items": None}
        ]
        out_of_range = json.loads(sent(Mutator.OUT_OF_RANGE, send, schema, row).body)
        assert out_of_range["context"]["basket"][0]["items"] == 100 + 100 * 1000
        renamed = json.loads(sent(Mutator.RENAMED_FIELD, send, schema, row).body)
        assert renamed["context"]["basket"] == [{"items_v2": row["context"]["basket"][0]["items"]}]
        deep = sent(
            Mutator.DEEPLY_NESTED,
            corrupt(Mutator.DEEPLY_NESTED, field="payment.value_eur", nest_depth=40),
            schema,
            row,
        )
        assert b'"payment":{"value_eur":' + b"[" * 40 + b"]" * 40 + b',"channel"' in deep.body
        assert json.loads(sent(Mutator.CONTROL_CHARS, send, schema, row).body)["customer"]["ref"].startswith(
            "u\x00"
        )

    def test_an_unknown_field_and_out_of_range_on_a_word_are_refused_before_the_run(self) -> None:
        [(loc, message)] = corrupt(Mutator.NAN, field="amount").problems(SCHEMA)
        assert loc == ("field",) and "'amount' is not a feature of the request" in message
        assert "value_eur (number), basket_items (integer), customer_ref (id), channel (category)" in message
        [(loc, message)] = corrupt(Mutator.NAN, Mutator.OUT_OF_RANGE, field="channel").problems(SCHEMA)
        assert (
            loc == ("mutators", 1)
            and "out_of_range needs a numeric field, and 'channel' is category" in message
        )
        [(loc, message)] = corrupt(Mutator.NAN).problems(RequestSchema())
        assert "no feature of the request is known" in message
        assert corrupt(Mutator.EMPTY_BODY, Mutator.MALFORMED_JSON).problems(RequestSchema()) == []


REFERENCE_LIKE = InputContract(extra_fields="reject", content_type="strict", max_body_bytes=16384)
LENIENT = InputContract(extra_fields="ignore", content_type="lenient")


class TestContractTagging:
    @pytest.mark.parametrize(
        ("contract", "extra", "content_type", "oversized"),
        [
            (REFERENCE_LIKE, "reject", "reject", "reject"),
            (LENIENT, "accept", "accept", "either"),
            (InputContract(), "either", "either", "either"),
        ],
        ids=["strict", "lenient", "undeclared"],
    )
    def test_what_the_contract_expects_travels_with_each_request(
        self, contract: InputContract, extra: str, content_type: str, oversized: str
    ) -> None:
        send = corrupt(*Mutator, contract=contract)
        expected = {mutator: sent(mutator, send).expected for mutator in Mutator}
        assert expected.pop(Mutator.EXTRA_FIELD) == extra
        assert expected.pop(Mutator.WRONG_CONTENT_TYPE) == content_type
        assert expected.pop(Mutator.OVERSIZED) == oversized
        assert set(expected.values()) == {"reject"}, "every other corruption must be refused"

    def test_an_oversized_body_goes_just_past_the_declared_limit(self) -> None:
        body = sent(Mutator.OVERSIZED, corrupt(Mutator.OVERSIZED, contract=REFERENCE_LIKE)).body
        assert len(body) == 16384 + 1024 and json.loads(body) == ROWS[0]
        without_limit = sent(Mutator.OVERSIZED, corrupt(Mutator.OVERSIZED, contract=LENIENT)).body
        assert len(without_limit) == 1_100_000
        small = sent(
            Mutator.OVERSIZED, corrupt(Mutator.OVERSIZED, contract=REFERENCE_LIKE, oversize_bytes=9000)
        )
        assert small.expected == "accept", "the scenario's size fits the limit: the contract allows it"

    def test_leaving_out_an_optional_feature_is_allowed(self) -> None:
        rows = [dict(row) for row in ROWS]
        for row in rows[::2]:
            del row["night"]
        schema = resolve_schema(RequestSchema(), bodies=rows, openapi=None, predict_path="/score")
        assert not schema.features["night"].required
        send = corrupt(
            Mutator.MISSING_FIELD, Mutator.RENAMED_FIELD, Mutator.NULL_FIELD, field="night", contract=LENIENT
        )
        assert [sent(m, send, schema).expected for m in send.mutators] == ["accept", "accept", "reject"]
        required = corrupt(Mutator.MISSING_FIELD, Mutator.RENAMED_FIELD, contract=LENIENT)
        assert [sent(m, required).expected for m in required.mutators] == ["reject", "reject"]


class TestCovariateShift:
    def test_numbers_move_within_their_bounds_and_integers_stay_whole(self) -> None:
        send = CovariateSend(scale={"value_eur": 40.0, "basket_items": 1.5})
        rng = random.Random(1)
        for row in ROWS:
            out = covariate(row, send, SCHEMA, rng)
            body = json.loads(out.body)
            assert out.input == "shift:covariate" and misfits(body, SCHEMA) == []
            assert body["value_eur"] == pytest.approx(min(50_000, row["value_eur"] * 40), rel=1e-7)
            assert body["basket_items"] == min(100, round(row["basket_items"] * 1.5))

    def test_a_category_is_redrawn_with_its_new_shares(self) -> None:
        send = CovariateSend(categories={"channel": (("phone", 3.0), ("pos", 1.0))})
        rng = random.Random(2)
        channels = Counter(json.loads(covariate(row, send, SCHEMA, rng).body)["channel"] for row in ROWS)
        assert set(channels) == {"phone", "pos"} and 0.65 < channels["phone"] / len(ROWS) < 0.85

    def test_a_nested_feature_moves_in_place(self) -> None:
        schema, row = nested_schema(), nested(ROWS[0])
        out = covariate(row, CovariateSend(offset={"payment.value_eur": 10.0}), schema, random.Random(0))
        assert get_path(json.loads(out.body), "payment.value_eur") == pytest.approx(
            row["payment"]["value_eur"] + 10
        )
        assert get_path(json.loads(out.body), "customer.ref") == row["customer"]["ref"]

    def test_names_must_be_features_of_the_right_type_naming_the_known_ones(self) -> None:
        send = CovariateSend(
            scale={"amount": 5.0, "channel": 2.0},
            swap=("value_eur", "night"),
            categories={"night": (("x", 1.0),), "channel": (("kiosk", 1.0), ("web", 1.0))},
        )
        found = dict(send.problems(SCHEMA))
        assert list(found) == [
            ("covariate", "scale", "amount"),
            ("covariate", "scale", "channel"),
            ("covariate", "swap", 1),
            ("covariate", "categories", "night"),
            ("covariate", "categories", "channel", "kiosk"),
        ]
        assert found[("covariate", "scale", "amount")].startswith(
            "'amount' is not a feature of the request; a covariate shift moves numeric features: value_eur, "
            "basket_items"
        )
        assert "'channel' is a category feature" in found[("covariate", "scale", "channel")]
        assert "the category features are: channel" in found[("covariate", "categories", "night")]
        assert (
            "'kiosk' is not one of channel's values" in found[("covariate", "categories", "channel", "kiosk")]
        )


def test_dotted_paths_reach_into_objects_and_lists_without_touching_the_original() -> None:
    body = {"a": {"0": 1, "b": [{"c": 2}, 3]}, "d": 4}
    assert get_path(body, "a.0") == 1, "a number names a key in an object"
    assert get_path(body, "a.b.0.c") == 2 and get_path(body, "a.b.1") == 3
    assert get_path(body, "a.b.2") is MISSING and get_path(body, "d.e") is MISSING
    assert set_path(body, "a.b.0.c", 9)["a"]["b"][0] == {"c": 9}
    assert set_path(body, "x.y", 1)["x"] == {"y": 1}, "missing objects are created"
    assert set_path(body, "a.b.5", 1) == body and set_path(body, "d.e", 1) == body, "no way there: unchanged"
    assert delete_path(body, "a.b.0")["a"]["b"] == [None, 3], "list positions are kept"
    assert list(rename_path(body, "a.0", "zero")["a"]) == ["zero", "b"]
    assert body == {"a": {"0": 1, "b": [{"c": 2}, 3]}, "d": 4}


def test_no_generator_names_a_feature() -> None:
    """The reference stack's field names appear nowhere in the input generators (issue 12)."""
    from pathlib import Path

    import mlchaos.experiments.inputs as inputs

    folder = Path(inputs.__file__).parent
    for module in sorted(folder.glob("*.py")):  # every kind of input, and every helper they share
        text = module.read_text(encoding="utf-8")
        for name in ("entity_id", "merchant_risk", "is_foreign", '"amount"', "'amount'"):
            assert name not in text, f"{module.name} names {name}"


def test_a_window_crosses_the_wire_as_its_kind_and_an_unknown_kind_is_refused_naming_the_installed_ones() -> (
    None
):
    """The load child reads what a window sends back by its ``kind``, through the fault registry."""
    window = InputWindow(
        fault_id="f", start_s=1, end_s=2, share=0.5, send=corrupt(Mutator.NAN, field="amount")
    )
    assert InputWindow.model_validate_json(window.model_dump_json()) == window
    wire = json.loads(window.model_dump_json())
    wire["send"]["kind"] = "shouting"
    with pytest.raises(ValidationError) as refused:
        InputWindow.model_validate(wire)
    assert (
        "unknown input kind 'shouting'; the installed faults send: corrupt, covariate, label_prior, metamorphic, "
        "ood, replay (is the package that registers it installed where the load runs?)"
    ) in str(refused.value)
