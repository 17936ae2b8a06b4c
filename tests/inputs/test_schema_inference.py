"""The resolved request schema: inferred from a dataset, read from an OpenAPI document (a hand-written one, and the
one the reference gateway serves), and merged field by field — declared over OpenAPI over dataset."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fake_service import FakeService
from input_schemas import CHANNELS, checkout_rows, nested

from mlchaos.experiments.inputs.inference import resolve_schema
from mlchaos.experiments.inputs.openapi import OpenApiProblem, openapi_features
from mlchaos.experiments.inputs.schema import Feature, FeatureType, RequestSchema
from mlchaos.experiments.service_schema import SchemaUnusable, fetch_openapi
from mlchaos.experiments.targets import REFERENCE_DECLARATION

NUMBER, INTEGER, BOOL, CATEGORY, ID = (
    FeatureType.NUMBER,
    FeatureType.INTEGER,
    FeatureType.BOOL,
    FeatureType.CATEGORY,
    FeatureType.ID,
)


def inferred(bodies: list[dict[str, Any]], declared: RequestSchema | None = None) -> RequestSchema:
    return resolve_schema(declared or RequestSchema(), bodies=bodies, openapi=None, predict_path="/score")


class TestFromTheDataset:
    def test_types_ranges_and_categories_are_observed(self) -> None:
        rows = checkout_rows()
        schema = inferred(rows)
        assert list(schema.features) == ["customer_ref", "value_eur", "channel", "night", "basket_items"]
        kinds = {path: feature.type for path, feature in schema.features.items()}
        assert kinds == {
            "customer_ref": ID,
            "value_eur": NUMBER,
            "channel": CATEGORY,
            "night": BOOL,
            "basket_items": INTEGER,
        }
        values = [row["value_eur"] for row in rows]
        assert schema.features["value_eur"].typical == (min(values), max(values))
        assert schema.features["basket_items"].typical == (1, 40)
        # most common first: the generator's weights are 50/30/15/5 %, so the rarest is the last
        assert schema.features["channel"].choices == CHANNELS
        assert all(feature.required for feature in schema.features.values())
        assert schema.features["value_eur"].min is None, "nothing says what the service accepts"

    def test_a_string_rarely_repeated_is_an_id_and_one_often_repeated_a_category(self) -> None:
        once_each = [{"who": f"k{i}", "tag": "ab"[i % 2]} for i in range(10)]
        schema = inferred(once_each)
        assert schema.features["who"].type is ID and schema.features["tag"].type is CATEGORY
        many = [{"tag": f"t{i % 30}"} for i in range(300)]
        assert inferred(many).features["tag"].type is ID, "more than 20 values: not a category"

    def test_a_feature_some_requests_lack_is_optional(self) -> None:
        schema = inferred([{"a": 1, "b": 2.5}, {"a": 2}])
        assert schema.features["a"].required and not schema.features["b"].required
        assert schema.features["b"].type is NUMBER and schema.features["b"].typical == (2.5, 2.5)

    def test_nested_bodies_give_dotted_paths_with_list_indices(self) -> None:
        schema = inferred([nested(row) for row in checkout_rows()])
        assert list(schema.features) == [
            "customer.ref",
            "payment.value_eur",
            "payment.channel",
            "context.night",
            "context.basket.0.items",
        ]
        assert schema.features["context.basket.0.items"].type is INTEGER

    def test_no_inference_when_the_target_says_so(self) -> None:
        declared = RequestSchema(
            features={"value_eur": Feature(type=NUMBER, min=0, max=50_000)}, infer_from_dataset=False
        )
        schema = inferred(checkout_rows(), declared)
        assert list(schema.features) == ["value_eur"] and schema.features["value_eur"].typical is None


CHECKOUT_OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "paths": {
        "/score": {
            "post": {
                "requestBody": {"$ref": "#/components/requestBodies/Score"},
                "responses": {"200": {"description": "scored"}},
            }
        },
        "/health": {"get": {"responses": {"200": {"description": "ok"}}}},
    },
    "components": {
        "requestBodies": {
            "Score": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Payment"}}}}
        },
        "schemas": {
            "Payment": {
                "allOf": [{"$ref": "#/components/schemas/Base"}],
                "type": "object",
                "required": ["value_eur", "channel", "order"],
                "properties": {
                    "value_eur": {"type": "number", "minimum": 0, "exclusiveMaximum": 50000},
                    "channel": {"$ref": "#/components/schemas/Channel"},
                    "night": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
                    "order": {
                        "type": "object",
                        "required": ["items"],
                        "properties": {
                            "items": {"type": ["integer", "null"], "minimum": 1, "maximum": 100},
                            "coupon": {"type": "string"},
                        },
                    },
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "meta data": {"type": "string"},
                },
            },
            "Base": {
                "type": "object",
                "required": ["customer_ref"],
                "properties": {"customer_ref": {"type": "string", "pattern": "^C-[0-9]{5}$"}},
            },
            "Channel": {"type": "string", "enum": ["web", "app", "pos", "phone", "kiosk"]},
        },
    },
}


class TestFromAnOpenApiDocument:
    def test_refs_enums_nested_objects_and_bounds_are_read(self) -> None:
        found = openapi_features(CHECKOUT_OPENAPI, "/score")
        assert found == {
            "value_eur": {"type": NUMBER, "min": 0.0, "max": 50000.0, "required": True},
            "channel": {
                "type": CATEGORY,
                "choices": ("web", "app", "pos", "phone", "kiosk"),
                "required": True,
            },
            "night": {"type": BOOL, "required": False},
            "order.items": {"type": INTEGER, "min": 1.0, "max": 100.0, "required": True},
            "order.coupon": {"type": ID, "required": False},
            "customer_ref": {"type": ID, "required": True},
        }, "arrays and keys no dotted path can name are no features"

    def test_a_document_without_the_predict_path_says_what_is_missing(self) -> None:
        with pytest.raises(OpenApiProblem, match="describes no POST /predict"):
            openapi_features(CHECKOUT_OPENAPI, "/predict")
        with pytest.raises(OpenApiProblem, match="no `paths`"):
            openapi_features({"openapi": "3.1.0"}, "/score")

    def test_a_recursive_schema_ends(self) -> None:
        loop = {
            "paths": {
                "/p": {
                    "post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/x"}}}}}
                }
            },
            "x": {"type": "object", "properties": {"next": {"$ref": "#/x"}, "n": {"type": "integer"}}},
        }
        found = openapi_features(loop, "/p")
        assert "n" in found and "next.next.n" in found and len(found) < 20


class TestPrecedence:
    def test_declared_wins_over_openapi_which_wins_over_the_dataset_field_by_field(self) -> None:
        declared = RequestSchema(
            features={
                "value_eur": Feature(type=NUMBER, max=30_000),  # only the max: the rest from below
                "night": Feature(type=BOOL, required=True),
            }
        )
        rows = checkout_rows()
        schema = resolve_schema(declared, bodies=rows, openapi=CHECKOUT_OPENAPI, predict_path="/score")
        value = schema.features["value_eur"]
        assert (value.min, value.max) == (0, 30_000), "min from the OpenAPI spec, max declared"
        assert value.typical == (min(r["value_eur"] for r in rows), max(r["value_eur"] for r in rows))
        assert schema.features["night"].required, "declared required over the spec's optional"
        assert schema.features["channel"].choices == ("web", "app", "pos", "phone", "kiosk"), (
            "the spec's enum"
        )
        # declared first, then the spec's order, then what only the dataset has
        assert list(schema.features) == [
            "value_eur",
            "night",
            "channel",
            "order.items",
            "order.coupon",
            "customer_ref",
            "basket_items",
        ]
        assert schema.features["basket_items"].typical == (1, 40)

    def test_a_source_contradicting_the_declaration_gives_way(self) -> None:
        declared = RequestSchema(features={"value_eur": Feature(type=NUMBER, min=60_000)})
        schema = resolve_schema(declared, bodies=[], openapi=CHECKOUT_OPENAPI, predict_path="/score")
        assert (schema.features["value_eur"].min, schema.features["value_eur"].max) == (60_000, None)

    def test_fields_that_do_not_fit_the_declared_type_are_dropped(self) -> None:
        declared = RequestSchema(features={"value_eur": Feature(type=CATEGORY, choices=("low", "high"))})
        schema = resolve_schema(
            declared, bodies=checkout_rows(), openapi=CHECKOUT_OPENAPI, predict_path="/score"
        )
        assert schema.features["value_eur"] == Feature(type=CATEGORY, choices=("low", "high"))


# -- fetching the document from the service ---------------------------------------------------------------------


def test_the_document_is_fetched_as_json(service: FakeService) -> None:
    service.answers["/openapi.json"] = (
        200,
        {"Content-Type": "application/json"},
        json.dumps(CHECKOUT_OPENAPI).encode(),
    )
    assert fetch_openapi(service.url, "/openapi.json", headers={}) == CHECKOUT_OPENAPI


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (
            (302, {"Location": "http://127.0.0.1:9/openapi.json"}, b""),
            "redirect to http://127.0.0.1:9/openapi.json",
        ),
        ((200, {"Content-Type": "application/yaml"}, b"openapi: 3.1.0\n"), "is not JSON"),
        ((200, {}, b"[1, 2]"), "is not a JSON object"),
        ((404, {}, b"{}"), "answered HTTP 404, not 200"),
    ],
    ids=["redirect", "yaml", "not-an-object", "missing"],
)
def test_what_is_not_a_json_document_from_the_service_itself_is_refused(
    service: FakeService, answer: tuple[int, dict[str, str], bytes], said: str
) -> None:
    service.answers["/openapi.json"] = answer
    with pytest.raises(SchemaUnusable, match=said):
        fetch_openapi(service.url, "/openapi.json", headers={})


def test_a_dribbling_service_does_not_hold_the_fetch(
    service: FakeService,
) -> None:
    with pytest.raises(SchemaUnusable, match=r"no complete answer within 0\.5s"):
        fetch_openapi(service.url, "/slow", headers={}, deadline_s=0.5)


@pytest.mark.stack
def test_the_reference_gateway_publishes_the_request_schema_its_declaration_states(gateway_url: str) -> None:
    document = fetch_openapi(gateway_url, "/openapi.json", headers={})
    schema = resolve_schema(RequestSchema(), bodies=[], openapi=document, predict_path="/predict")
    published = {path: (f.type, f.min, f.max, f.required) for path, f in schema.features.items()}
    assert published == {
        "entity_id": (ID, None, None, True),
        "amount": (NUMBER, 0, 1e9, True),
        "hour": (INTEGER, 0, 23, False),
        "merchant_risk": (NUMBER, 0, 1, False),
        "is_foreign": (BOOL, None, None, False),
    }
    declared = REFERENCE_DECLARATION.request.features
    assert {path: (f.type, f.min, f.max, f.required) for path, f in declared.items()} == published
