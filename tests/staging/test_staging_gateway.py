"""The healthy reference stack, and how it degrades and recovers under real faults (toxiproxy, kill -9)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from staging_helpers import (
    ABSURD_AMOUNT,
    HEALTHY_BODY,
    TEST_OPTIONS,
    Gateway,
    Toxiproxy,
    direct_redis,
    supervisor,
)
from support.waiting import wait_until

from mlchaos.staging import PROGRAMS, PROXIES, StackEndpoints
from mlchaos.staging.data import sample_requests
from mlchaos.staging.schemas import PredictResponse

pytestmark = pytest.mark.stack

BREAKER = TEST_OPTIONS.breaker


# -- a healthy stack -------------------------------------------------------------------------------


def test_every_program_runs_and_every_proxy_exists(stack: StackEndpoints, toxiproxy: Toxiproxy) -> None:
    with supervisor(stack.supervisor_url) as rpc:
        states = {info["name"]: info["statename"] for info in rpc.getAllProcessInfo()}
    assert states == dict.fromkeys(PROGRAMS, "RUNNING")
    proxies = toxiproxy.proxies()
    assert set(proxies) == set(PROXIES.values())
    assert all(p["enabled"] and p["listen"].startswith("127.0.0.1:") for p in proxies.values())
    for url in (stack.gateway_url, stack.primary_url, stack.toxiproxy_url):
        assert url.startswith("http://127.0.0.1:")
    assert stack.supervisor_url == f"unix://{stack.workdir}/supervisord.sock"  # no TCP port at all


def test_healthy_request_is_answered_by_the_primary_tier(gateway: Gateway) -> None:
    response = gateway.client.post("/predict", json=HEALTHY_BODY, headers={"X-Request-ID": "req-123"})
    assert response.status_code == 200
    body = PredictResponse.model_validate(response.json())  # the documented shape, strictly
    assert body.tier == "primary" and response.headers["X-Tier"] == "primary"
    assert body.prediction in {"fraud", "legit"}
    assert 0.5 <= body.confidence <= 1.0
    assert body.confidence == pytest.approx(max(body.score, 1 - body.score), abs=1e-6)
    assert body.request_id == response.headers["X-Request-ID"] == "req-123"
    assert body.skipped == []


def test_primary_tier_is_accurate_on_labelled_traffic(gateway: Gateway) -> None:
    requests_with_labels = sample_requests(60, seed=99, world_seed=TEST_OPTIONS.seed)
    answers = [gateway.answer(body) for body, _ in requests_with_labels]
    assert {a["tier"] for a in answers} == {"primary"}
    correct = sum(
        a["prediction"] == label for a, (_, label) in zip(answers, requests_with_labels, strict=True)
    )
    assert correct / len(answers) >= 0.8


def test_health_checks_of_a_healthy_stack(gateway: Gateway) -> None:
    assert gateway.client.get("/health/live").json() == {"status": "alive"}
    ready = gateway.ready()
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert {name: check["ok"] for name, check in ready.json()["checks"].items()} == {
        "feature_store": True,
        "primary_model": True,
        "cache": True,
    }
    inference = gateway.client.get("/health/inference")
    assert inference.status_code == 200, inference.text
    payload = inference.json()
    assert payload["status"] == "healthy" and payload["tier"] == "primary"
    assert all(payload["checks"].values())
    assert payload["latency_ms"] < 200


def test_metrics_parse_and_count_answers(gateway: Gateway) -> None:
    before = gateway.sample("mlchaos_gateway_requests_total", tier="primary")
    gateway.answer()
    metrics = gateway.metrics()
    assert metrics[("mlchaos_gateway_requests_total", frozenset({("tier", "primary")}))] == before + 1
    for tier in ("fallback", "rules", "cache", "static"):
        assert ("mlchaos_gateway_requests_total", frozenset({("tier", tier)})) in metrics
    assert metrics[("mlchaos_gateway_responses_total", frozenset({("status", "200")}))] >= 1
    assert metrics[("mlchaos_gateway_request_duration_seconds_count", frozenset({("tier", "primary")}))] >= 1
    for dependency in PROXIES:
        assert gateway.breaker_state(dependency) == "closed"
        key = (
            "mlchaos_gateway_breaker_transitions_total",
            frozenset({("dependency", dependency), ("from_state", "closed"), ("to_state", "open")}),
        )
        assert key in metrics


# -- bad input: always a 4xx with a clear JSON error, never a 5xx ----------------------------------

BAD_BODIES: dict[str, tuple[Any, int, str | None]] = {
    # id: (JSON body, expected status, the field the error must point at)
    "missing entity_id": ({"amount": 10.0}, 422, "entity_id"),
    "missing amount": ({"entity_id": "u0001"}, 422, "amount"),
    "extra field": ({**HEALTHY_BODY, "coupon": "X"}, 422, "coupon"),
    "negative amount": ({**HEALTHY_BODY, "amount": -1.0}, 422, "amount"),
    "amount as string": ({**HEALTHY_BODY, "amount": "12"}, 422, "amount"),
    "hour out of range": ({**HEALTHY_BODY, "hour": 24}, 422, "hour"),
    "hour as float": ({**HEALTHY_BODY, "hour": 3.5}, 422, "hour"),
    "merchant_risk above 1": ({**HEALTHY_BODY, "merchant_risk": 1.5}, 422, "merchant_risk"),
    "is_foreign as int": ({**HEALTHY_BODY, "is_foreign": 1}, 422, "is_foreign"),
    "empty entity_id": ({**HEALTHY_BODY, "entity_id": ""}, 422, "entity_id"),
    "odd entity_id": ({**HEALTHY_BODY, "entity_id": "<script>"}, 422, "entity_id"),
    "array body": ([HEALTHY_BODY], 422, None),
}
RAW_BODIES: dict[str, tuple[bytes, str, int]] = {
    # id: (raw body, content type, expected status)
    "malformed JSON": (b'{"entity_id": "u0001", "amount": ', "application/json", 400),
    "NaN amount": (b'{"entity_id": "u0001", "amount": NaN}', "application/json", 422),
    "Infinity amount": (b'{"entity_id": "u0001", "amount": Infinity}', "application/json", 422),
    "overflowing amount": (b'{"entity_id": "u0001", "amount": 1e999}', "application/json", 422),
    "form content type": (b"entity_id=u0001&amount=3", "application/x-www-form-urlencoded", 415),
    "text content type": (b'{"entity_id": "u0001", "amount": 3}', "text/plain", 415),
    "no content type": (b'{"entity_id": "u0001", "amount": 3}', "", 415),
    "oversized body": (b'{"entity_id": "' + b"u" * 40_000 + b'", "amount": 1}', "application/json", 413),
    "not UTF-8": (b'{"entity_id": "\xff\xfe", "amount": 1}', "application/json", 400),
    "null body": (b"null", "application/json", 422),
    "empty body": (b"", "application/json", 400),
}


def _assert_clear_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    payload: dict[str, Any] = response.json()
    assert set(payload) == {"error", "detail"}
    assert isinstance(payload["error"], str) and payload["error"]
    assert isinstance(payload["detail"], list)
    return payload


@pytest.mark.parametrize(("body", "status", "field"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_invalid_json_bodies_get_a_clear_4xx(
    gateway: Gateway, body: Any, status: int, field: str | None
) -> None:
    payload = _assert_clear_error(gateway.client.post("/predict", json=body), status)
    if field is not None:
        assert [field] in [entry["loc"] for entry in payload["detail"]], payload


@pytest.mark.parametrize(("raw", "content_type", "status"), RAW_BODIES.values(), ids=RAW_BODIES.keys())
def test_malformed_requests_get_a_clear_4xx(
    gateway: Gateway, raw: bytes, content_type: str, status: int
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = gateway.client.post("/predict", content=raw, headers=headers)
    _assert_clear_error(response, status)


def test_wrong_method_and_path_are_4xx_too(gateway: Gateway) -> None:
    _assert_clear_error(gateway.client.get("/predict"), 405)
    _assert_clear_error(gateway.client.post("/nowhere", json={}), 404)


def test_bad_input_is_counted_by_status(gateway: Gateway) -> None:
    before = gateway.sample("mlchaos_gateway_responses_total", status="422")
    gateway.predict(amount=-5)
    assert gateway.sample("mlchaos_gateway_responses_total", status="422") == before + 1


# -- faults and recovery ---------------------------------------------------------------------------


def test_feature_store_outage_falls_back_and_recovers_promptly(
    gateway: Gateway, toxiproxy: Toxiproxy
) -> None:
    assert gateway.tier() == "primary"  # also opens pooled connections, which the outage must break
    with toxiproxy.disabled(PROXIES["feature_store"]):
        answer = gateway.answer()
        assert answer["tier"] == "fallback"
        assert answer["skipped"][0]["tier"] == "primary"
        assert "feature_store" in answer["skipped"][0]["reason"]
        ready = gateway.ready()
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["feature_store"]["ok"] is False and checks["primary_model"]["ok"] is True
    reenabled = time.monotonic()
    wait_until(lambda: gateway.tier() == "primary", 5, "the primary tier after the outage", interval_s=0.1)
    # At most one breaker recovery timeout plus a little: stale pooled connections must not linger.
    assert time.monotonic() - reenabled < BREAKER.recovery_timeout_s + 2.0


def test_blackholed_feature_store_costs_one_timeout(gateway: Gateway, toxiproxy: Toxiproxy) -> None:
    assert gateway.tier() == "primary"
    with toxiproxy.toxic(PROXIES["feature_store"], "timeout", timeout=0):  # accepts, never answers
        started = time.monotonic()
        answer = gateway.answer()
        elapsed = time.monotonic() - started
        assert answer["tier"] == "fallback"
        assert "no answer within 100 ms" in answer["skipped"][0]["reason"]
        assert 0.1 <= elapsed < 1.0
    wait_until(lambda: gateway.tier() == "primary", 5, "the primary tier after the blackhole", interval_s=0.1)


def test_slow_primary_model_times_out_to_fallback(gateway: Gateway, toxiproxy: Toxiproxy) -> None:
    with toxiproxy.toxic(PROXIES["primary_model"], "latency", latency=1500):
        started = time.monotonic()
        answer = gateway.answer()
        assert answer["tier"] == "fallback"
        assert "primary_model: no answer within 300 ms" in answer["skipped"][0]["reason"]
        assert time.monotonic() - started < 1.0
    wait_until(lambda: gateway.tier() == "primary", 5, "the primary tier after the slowdown", interval_s=0.1)


def _transitions(gateway: Gateway, dependency: str, old: str, new: str) -> float:
    return gateway.sample(
        "mlchaos_gateway_breaker_transitions_total", dependency=dependency, from_state=old, to_state=new
    )


def test_breaker_opens_after_threshold_and_closes_after_recovery(
    gateway: Gateway, toxiproxy: Toxiproxy
) -> None:
    dependency = "primary_model"
    assert gateway.breaker_state(dependency) == "closed"
    opened_before = _transitions(gateway, dependency, "closed", "open")
    closed_before = _transitions(gateway, dependency, "half_open", "closed")
    with toxiproxy.disabled(PROXIES[dependency]):
        for _ in range(BREAKER.failure_threshold):
            assert gateway.breaker_state(dependency) == "closed"
            assert gateway.tier() == "fallback"
        assert gateway.breaker_state(dependency) == "open"
        assert _transitions(gateway, dependency, "closed", "open") == opened_before + 1
        skipped = gateway.answer()["skipped"][0]
        assert skipped["reason"].startswith("primary_model: circuit open")
        assert gateway.ready().json()["checks"][dependency]["breaker"] == "open"
    # Healthy again, but the breaker holds off until its recovery timeout has passed...
    assert gateway.breaker_state(dependency) == "open"
    wait_until(
        lambda: gateway.breaker_state(dependency) == "half_open", BREAKER.recovery_timeout_s + 2, "half-open"
    )
    # ... then half_open_successes good trials close it.
    for _ in range(BREAKER.half_open_successes):
        assert gateway.tier() == "primary"
    assert gateway.breaker_state(dependency) == "closed"
    assert _transitions(gateway, dependency, "half_open", "closed") == closed_before + 1


def test_lower_tiers_rules_cache_and_static(
    stack: StackEndpoints, gateway: Gateway, toxiproxy: Toxiproxy
) -> None:
    """Out-of-distribution input is kept from the learned tiers; without merchant_risk the rules decline too."""
    remembered = gateway.answer(entity_id="u0007")
    assert remembered["tier"] == "primary"
    with direct_redis(stack) as direct:  # cached after the response went out
        wait_until(lambda: direct.exists("answer:u0007"), 2, "the answer to be cached")
    absurd = {**HEALTHY_BODY, "amount": ABSURD_AMOUNT}
    no_risk = {key: value for key, value in absurd.items() if key != "merchant_risk"}
    with toxiproxy.disabled(PROXIES["feature_store"]):
        rules = gateway.answer(absurd)
        assert rules["tier"] == "rules" and rules["ood_score"] > 0.9
        assert [s["tier"] for s in rules["skipped"]] == ["primary", "fallback"]
        assert all("out of distribution" in s["reason"] for s in rules["skipped"])
        cached = gateway.answer(no_risk, entity_id="u0007")
        assert cached["tier"] == "cache"
        assert cached["prediction"] == remembered["prediction"]
        assert 0.5 <= cached["confidence"] <= remembered["confidence"]
        static = gateway.answer(no_risk, entity_id="u0999")  # never answered before: nothing cached
        assert static["tier"] == "static"
        # The static default (legit, score 0.2), its confidence capped: the input is out of distribution.
        assert (static["prediction"], static["score"]) == ("legit", 0.4)
        assert static["review"] is True and static["review_reason"] == "ood"
        assert [s["tier"] for s in static["skipped"]] == ["primary", "fallback", "rules", "cache"]
        with toxiproxy.disabled(PROXIES["cache"]):
            assert gateway.tier(no_risk, entity_id="u0007") == "static"


def test_killed_primary_model_is_restarted_after_its_restart_delay(
    stack: StackEndpoints, gateway: Gateway, toxiproxy: Toxiproxy
) -> None:
    with supervisor(stack.supervisor_url) as rpc:
        old_pid = rpc.getProcessInfo("primary-model")["pid"]
        killed = time.monotonic()
        assert rpc.signalProcess("primary-model", "KILL")
        assert gateway.tier() == "fallback"

        def restarted() -> bool:
            info = rpc.getProcessInfo("primary-model")
            return bool(info["statename"] == "RUNNING" and info["pid"] not in (0, old_pid))

        wait_until(restarted, 10, "supervisord to restart primary-model")

    def primary_serves() -> bool:
        try:
            return httpx.get(f"{stack.primary_url}/health/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(
        primary_serves, TEST_OPTIONS.restart_delay_s + 15, "the restarted primary server", interval_s=0.1
    )
    assert time.monotonic() - killed >= TEST_OPTIONS.restart_delay_s
    wait_until(lambda: gateway.tier() == "primary", 5, "the primary tier again", interval_s=0.1)


def test_killed_redis_comes_back_with_its_features(
    stack: StackEndpoints, gateway: Gateway, toxiproxy: Toxiproxy
) -> None:
    with supervisor(stack.supervisor_url) as rpc:
        assert rpc.signalProcess("redis", "KILL")
        wait_until(lambda: rpc.getProcessInfo("redis")["statename"] == "RUNNING", 10, "redis to restart")
    # The feature store snapshot is reloaded: known entities are served by the primary tier again.
    wait_until(lambda: gateway.tier(entity_id="u0123") == "primary", 10, "the primary tier", interval_s=0.1)
