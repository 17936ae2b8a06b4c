"""risk-api's OpenAPI 3.0 document (``GET /api/v2/openapi.json``), written by hand from the same constants the
validator uses, so the schema a harness infers from it is exactly what the service accepts."""

from __future__ import annotations

from typing import Any

from riskd.config import TIERS
from riskd.data import CHANNELS, COUNTRIES
from riskd.validation import BASKET_RANGE, FIELDS, MAX_BODY_BYTES, VALUE_RANGE

_PROBLEM: dict[str, Any] = {
    "type": "object",
    "required": ["problem", "fields"],
    "properties": {
        "problem": {"type": "string"},
        "fields": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "issue": {"type": "string"}},
            },
        },
    },
}

_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": list(FIELDS),
    "additionalProperties": True,
    "description": "Unknown extra fields are ignored.",
    "properties": {
        "customer_ref": {"type": "string", "pattern": "^C-[0-9]{5}$", "example": "C-00042"},
        "value_eur": {
            "type": "number",
            "minimum": VALUE_RANGE[0],
            "maximum": VALUE_RANGE[1],
            "example": 12.5,
        },
        "channel": {"type": "string", "enum": list(CHANNELS)},
        "country": {"type": "string", "enum": list(COUNTRIES)},
        "night": {"type": "boolean"},
        "basket_items": {
            "type": "integer",
            "minimum": BASKET_RANGE[0],
            "maximum": BASKET_RANGE[1],
            "example": 3,
        },
    },
}

_ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["outputs", "meta"],
    "properties": {
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "enum": ["decision"]},
                    "data": {
                        "type": "array",
                        "description": '["block" | "allow", p_block]',
                        "items": {
                            "oneOf": [{"type": "string", "enum": ["block", "allow"]}, {"type": "number"}]
                        },
                    },
                },
            },
        },
        "meta": {
            "type": "object",
            "properties": {
                "confidence": {"type": "number", "minimum": 0.5, "maximum": 1.0},
                "needs_review": {"type": "boolean"},
                "review_reason": {
                    "type": "string",
                    "nullable": True,
                    "enum": ["ood", "low_confidence", None],
                },
                "load_shed": {"type": "boolean"},
                "request": {"type": "string"},
            },
        },
    },
}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "riskd risk-api", "version": "2.4.1"},
        "paths": {
            "/api/v2/score": {
                "post": {
                    "operationId": "scorePayment",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ScoreRequest"}}
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Scored. The serving tier is in the X-Served-By header.",
                            "headers": {
                                "X-Served-By": {"schema": {"type": "string", "enum": list(TIERS)}},
                                "X-Correlation-Id": {"schema": {"type": "string"}},
                            },
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/ScoreAnswer"}}
                            },
                        },
                        "400": _problem("Malformed JSON"),
                        "413": _problem(f"Body over {MAX_BODY_BYTES} bytes"),
                        "422": _problem("Invalid request"),
                        "503": _problem("Models still loading"),
                    },
                }
            },
            "/healthz": {"get": {"responses": {"200": {"description": "Alive"}}}},
            "/readyz": {
                "get": {"responses": {"200": {"description": "Ready"}, "503": {"description": "Loading"}}}
            },
            "/readyz/deep": {
                "get": {
                    "responses": {
                        "200": {"description": "Canary served by gold or silver in time"},
                        "503": {"description": "Degraded"},
                    }
                }
            },
        },
        "components": {"schemas": {"ScoreRequest": _REQUEST, "ScoreAnswer": _ANSWER, "Problem": _PROBLEM}},
    }
