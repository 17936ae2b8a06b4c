"""The reference gateway fuzzed from its own OpenAPI spec (schemathesis): no 5xx, no hang, whatever it is sent.

The stack is real (supervisord, redis-server, toxiproxy-server, the model servers) and healthy, so a 5xx can only
come from the gateway mishandling what it was sent — the design promises bad input a 4xx with a clear message.
Requests are generated from the OpenAPI spec the gateway serves at /openapi.json: bodies that follow the schema
and bodies that break it (wrong types, missing and extra fields, out-of-range numbers, unicode), and the probes.
Each request must be answered within ``REQUEST_TIMEOUT_S`` (a hang fails the case). Bounded and derandomized:
``EXAMPLES`` cases per kind of ``/predict`` body, a quarter of that per probe, the same on every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
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


def served_spec(gateway_url: str) -> dict[str, Any]:
    """The spec the gateway serves at /openapi.json: what a client or a fuzzer of the real service reads."""
    response = httpx.get(f"{gateway_url}/openapi.json", timeout=REQUEST_TIMEOUT_S)
    response.raise_for_status()
    spec: dict[str, Any] = response.json()
    return spec


@pytest.fixture(scope="module")
def gateway_schema() -> Iterator[schemathesis.BaseSchema]:
    with EmbeddedStack(StackOptions()) as running:
        spec = served_spec(running.endpoints.gateway_url)
        loaded = schemathesis.openapi.from_dict(spec)
        loaded.config.update(base_url=running.endpoints.gateway_url)
        yield loaded


def test_the_served_spec_describes_predict_with_the_model_that_validates_it(
    gateway_schema: schemathesis.BaseSchema,
) -> None:
    spec = gateway_schema.raw_schema
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PredictRequest"}
    served = spec["components"]["schemas"]["PredictRequest"]
    assert served == PredictRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    assert set(PROBES) <= set(spec["paths"])


# (method, path, what is generated): bodies that fit the request model and bodies that break it; the probes
# with query strings and X-Request-ID headers that break their (loose) schema. schemathesis's own pytest plugin
# (lazy fixtures) does not run on pytest 9, so the cases come from its strategies, driven by hypothesis directly.
OPERATIONS = [
    ("POST", "/predict", GenerationMode.POSITIVE),
    ("POST", "/predict", GenerationMode.NEGATIVE),
    # The probes take no input at all, so there is nothing to break: they get the requests the spec allows.
    *(("GET", path, GenerationMode.POSITIVE) for path in PROBES),
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
