"""A request schema unlike the reference stack's — a checkout service's: a customer reference, a value in euros
(0..50000), a channel (web, app, pos, phone), a night flag, a basket size (1..100) — its dataset, the same
service with nested bodies, and a check that a body fits a schema. Imported by plain name by the tests here."""

from __future__ import annotations

import random
from typing import Any

from mlchaos.experiments.inputs.inference import resolve_schema
from mlchaos.experiments.inputs.paths import MISSING, get_path
from mlchaos.experiments.inputs.schema import Feature, FeatureType, RequestSchema

CHANNELS = ("web", "app", "pos", "phone")
CHANNEL_WEIGHTS = (0.5, 0.3, 0.15, 0.05)


def checkout_rows(n: int = 400, seed: int = 7) -> list[dict[str, Any]]:
    """Typical traffic: values 0.5..2000 €, baskets of 1..40 items, mostly web, a fifth at night."""
    rng = random.Random(seed)
    return [
        {
            "customer_ref": f"C-{rng.randrange(1000):05d}",
            "value_eur": round(min(2000.0, 0.5 + rng.expovariate(1 / 120)), 2),
            "channel": rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0],
            "night": rng.random() < 0.2,
            "basket_items": rng.randint(1, 40),
        }
        for _ in range(n)
    ]


DECLARED = RequestSchema(
    features={
        "value_eur": Feature(type=FeatureType.NUMBER, min=0, max=50_000),
        "basket_items": Feature(type=FeatureType.INTEGER, min=1, max=100),
    }
)
"""What the checkout team declares: the bounds of its two numbers; the rest is inferred from the dataset."""


def checkout_schema(rows: list[dict[str, Any]] | None = None) -> RequestSchema:
    return resolve_schema(DECLARED, bodies=rows or checkout_rows(), openapi=None, predict_path="/score")


def nested(row: dict[str, Any]) -> dict[str, Any]:
    """The same request as the nested body of a service that groups its fields."""
    return {
        "customer": {"ref": row["customer_ref"]},
        "payment": {"value_eur": row["value_eur"], "channel": row["channel"]},
        "context": {"night": row["night"], "basket": [{"items": row["basket_items"]}]},
    }


NESTED_DECLARED = RequestSchema(
    features={
        "payment.value_eur": Feature(type=FeatureType.NUMBER, min=0, max=50_000),
        "context.basket.0.items": Feature(type=FeatureType.INTEGER, min=1, max=100),
    }
)


def nested_schema() -> RequestSchema:
    bodies = [nested(row) for row in checkout_rows()]
    return resolve_schema(NESTED_DECLARED, bodies=bodies, openapi=None, predict_path="/score")


def misfits(body: dict[str, Any], schema: RequestSchema) -> list[str]:
    """Why ``body`` does not fit ``schema`` (the way a strict service would refuse it); empty if it does."""
    found = []
    for path, feature in schema.features.items():
        value = get_path(body, path)
        if value is MISSING:
            if feature.required:
                found.append(f"{path}: missing")
            continue
        kind = feature.type
        if kind in (FeatureType.NUMBER, FeatureType.INTEGER):
            integral = isinstance(value, int) and not isinstance(value, bool)
            if not (integral or (kind is FeatureType.NUMBER and isinstance(value, float))):
                found.append(f"{path}: {value!r} is not a {kind.value}")
            elif (feature.min is not None and value < feature.min) or (
                feature.max is not None and value > feature.max
            ):
                found.append(f"{path}: {value!r} outside [{feature.min}, {feature.max}]")
        elif kind is FeatureType.BOOL and not isinstance(value, bool):
            found.append(f"{path}: {value!r} is not a bool")
        elif kind is FeatureType.CATEGORY and value not in feature.choices:
            found.append(f"{path}: {value!r} not among {feature.choices}")
        elif kind is FeatureType.ID and not isinstance(value, str):
            found.append(f"{path}: {value!r} is not a string")
    return found
