"""The attack against the real embedded gateway over HTTP: the server's own request counter is the budget's judge."""

from __future__ import annotations

import pytest
from support.cli_runs import gateway_answers

from mlchaos.experiments.attacks import FeatureRange, QueryFailedError, boundary_attack
from mlchaos.experiments.attacks.target import http_query
from mlchaos.staging.data import sample_requests
from mlchaos.staging.endpoints import StackEndpoints

pytestmark = pytest.mark.stack

FEATURES = (
    FeatureRange("amount", 0.0, 2000.0),
    FeatureRange("merchant_risk", 0.0, 1.0),
    FeatureRange("hour", 0, 23, integer=True),
)


def test_attack_queries_counted_at_the_server_stay_within_the_budget(stack: StackEndpoints) -> None:
    clean = [body for body, _ in sample_requests(6, seed=11)]
    before = gateway_answers(stack.gateway_url)
    with http_query(stack.gateway_url, "/predict", {"X-Request-Id": "attack"}, timeout_s=5) as query:
        result = boundary_attack(clean, FEATURES, query, budget=120, seed=7, max_distance=1.0)
    assert gateway_answers(stack.gateway_url) - before == result.queries
    assert result.queries <= 120
    assert result.samples, "the attack found no flip at all against the reference model"
    with http_query(stack.gateway_url, "/predict", {}, timeout_s=5) as query:
        for sample in result.samples:
            assert query(sample.adversarial).prediction == sample.adversarial_prediction
            assert query(sample.clean).prediction == sample.clean_prediction != sample.adversarial_prediction


def test_the_same_seed_against_the_same_gateway_gives_the_same_samples(stack: StackEndpoints) -> None:
    clean = [body for body, _ in sample_requests(3, seed=5)]
    results = []
    for _ in range(2):
        with http_query(stack.gateway_url, "/predict", {}, timeout_s=5) as query:
            results.append(boundary_attack(clean, FEATURES, query, budget=40, seed=3, max_distance=1.0))
    assert results[0] == results[1]


def test_an_invalid_body_is_a_failed_query_not_an_answer(stack: StackEndpoints) -> None:
    with (
        http_query(stack.gateway_url, "/predict", {}, timeout_s=5) as query,
        pytest.raises(QueryFailedError, match="HTTP 4"),
    ):
        query({"entity_id": "u0001", "amount": -5.0})


def test_an_unreachable_target_is_a_failed_query() -> None:
    with (
        http_query("http://127.0.0.1:9", "/predict", {}, timeout_s=2) as query,
        pytest.raises(QueryFailedError, match="ConnectionError"),
    ):
        query({"entity_id": "u0001", "amount": 5.0})
