"""The reference gateway fuzzed from its own OpenAPI spec (schemathesis): no 5xx, no hang, whatever it is sent.

The stack is real (supervisord, redis-server, toxiproxy-server, the model servers) and healthy, so a 5xx can only
come from the gateway mishandling what it was sent — the design promises bad input a 4xx with a clear message.
Requests are generated from the gateway's OpenAPI spec (see :func:`gateway_spec`): bodies that follow the
schema and bodies that break it (wrong types, missing and extra fields, out-of-range numbers, unicode), and odd
query strings and headers on the probes.
Each request must be answered within ``REQUEST_TIMEOUT_S`` (a hang fails the case). Bounded and derandomized:
``EXAMPLES`` cases per kind of ``/predict`` body, a quarter of that per probe, the same on every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode

from mlchaos.staging.options import StackOptions
from mlchaos.staging.schemas import PredictRequest
from mlchaos.staging.stack import EmbeddedStack

pytestmark = pytest.mark.stack

EXAMPLES = 60
PROBES = ("/health/live", "/health/ready", "/health/inference", "/metrics")
REQUEST_TIMEOUT_S = 10.0  # the slowest answer the chain can give (every timeout in it) is well under a second


def gateway_spec() -> dict[str, Any]:
    """The gateway's API as OpenAPI 3.1. The gateway serves no ``/openapi.json`` (``openapi_url=None``) and reads
    ``/predict``'s body itself, so FastAPI could not describe it anyway: the spec is built here from the very
    pydantic model the gateway validates bodies with, and the routes it serves."""
    body = PredictRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = body.pop("$defs", {})
    answers = {"description": "any answer but a 5xx"}
    # The gateway echoes X-Request-ID; probes take no query, so any query string is noise they must ignore.
    request_id = {"name": "X-Request-ID", "in": "header", "required": False, "schema": {"type": "string"}}
    query = {"name": "q", "in": "query", "required": False, "schema": {}}
    probe = {"get": {"parameters": [request_id, query], "responses": {"default": answers}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "mlchaos gateway", "version": "1"},
        "paths": {
            "/predict": {
                "post": {
                    "parameters": [request_id],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Predict"}}},
                    },
                    "responses": {"default": answers},
                }
            },
            **dict.fromkeys(PROBES, probe),
        },
        "components": {"schemas": {"Predict": body, **definitions}},
    }


@pytest.fixture(scope="module")
def gateway_schema() -> Iterator[schemathesis.BaseSchema]:
    with EmbeddedStack(StackOptions()) as running:
        loaded = schemathesis.openapi.from_dict(gateway_spec())
        loaded.config.update(base_url=running.endpoints.gateway_url)
        yield loaded


# (method, path, what is generated): bodies that fit the request model and bodies that break it; the probes
# with query strings and X-Request-ID headers that break their (loose) schema. schemathesis's own pytest plugin
# (lazy fixtures) does not run on pytest 9, so the cases come from its strategies, driven by hypothesis directly.
OPERATIONS = [
    ("POST", "/predict", GenerationMode.POSITIVE),
    ("POST", "/predict", GenerationMode.NEGATIVE),
    *(("GET", path, GenerationMode.NEGATIVE) for path in PROBES),
]


@pytest.mark.parametrize(
    ("method", "path", "mode"), OPERATIONS, ids=[f"{m} {p} {g.value}" for m, p, g in OPERATIONS]
)
def test_the_gateway_never_answers_5xx_and_never_hangs(
    gateway_schema: schemathesis.BaseSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = gateway_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES if path == "/predict" else EXAMPLES // 4,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def answered_without_5xx(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=[not_a_server_error], timeout=REQUEST_TIMEOUT_S)

    answered_without_5xx()
