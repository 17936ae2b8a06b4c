"""Load shedding on real stacks: a small max_in_flight, a slowed primary model and a burst of concurrent requests.

The primary model gets a 1 s latency toxic (below its timeout, raised for these stacks), so the requests
admitted first hold their slots while the rest of the burst arrives, and a request that waited for a slot could
not pass for a shed one: the 20 requests of a burst take a loaded 2-core machine up to ~0.3 s to send and answer
even when the gateway spends 1-10 ms on each. The broken variant (no_load_shedding) is in test_staging_flags.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from staging_helpers import (
    HEALTHY_BODY,
    Burst,
    Gateway,
    Metrics,
    Reply,
    Toxiproxy,
    burst,
    direct_redis,
    running_stack,
)
from support.waiting import wait_until

from mlchaos.staging import PROXIES, StackEndpoints, StackOptions
from mlchaos.staging.options import ShedMode
from mlchaos.staging.schemas import PredictResponse

pytestmark = pytest.mark.stack

LIMIT = 2
SLOW_PRIMARY_MS = 1000
PRIMARY_TIMEOUT_MS = 2500
FAST_S = 0.5
"""A shed answer is given at once, as the client sees it: half the slowed primary's 1 s (a request that waited
for a slot would take two), with room for a busy machine's client-side overhead."""
FAST_SERVER_S = "0.05"
"""The same, as the gateway itself measures it (a bucket of its latency histogram): 1-10 ms in practice."""
CACHED_ENTITY = "u0007"
NO_RISK = {key: value for key, value in HEALTHY_BODY.items() if key != "merchant_risk"}
INVALID = {**HEALTHY_BODY, "amount": -1.0}


def _in_flight(metrics: Metrics) -> float:
    return metrics[("mlchaos_gateway_in_flight", frozenset())]


def _options(shed_mode: ShedMode) -> StackOptions:
    return StackOptions(max_in_flight=LIMIT, shed_mode=shed_mode, primary_timeout_ms=PRIMARY_TIMEOUT_MS)


def _fast_and_all(gateway: Gateway) -> tuple[float, float]:
    """Answers of the rules and static tiers the gateway gave within FAST_SERVER_S, and all of them."""
    metrics = gateway.metrics()
    name = "mlchaos_gateway_request_duration_seconds"
    fast = all_ = 0.0
    for tier in ("rules", "static"):
        fast += metrics[(f"{name}_bucket", frozenset({("tier", tier), ("le", FAST_SERVER_S)}))]
        all_ += metrics[(f"{name}_count", frozenset({("tier", tier)}))]
    return fast, all_


def _shed_total(gateway: Gateway, mode: str) -> float:
    return gateway.sample("mlchaos_gateway_shed_total", mode=mode)


def _slow_burst(stack: StackEndpoints, bodies: list[dict[str, Any]]) -> Burst:
    with Toxiproxy(stack.toxiproxy_url).toxic(PROXIES["primary_model"], "latency", latency=SLOW_PRIMARY_MS):
        return burst(stack.gateway_url, bodies)


def _assert_admitted(replies: list[Reply]) -> None:
    """The requests that got a slot went the full chain: primary, slowed by the toxic, not marked shed."""
    assert len(replies) >= LIMIT, replies
    for reply in replies:
        assert reply.status == 200, reply.body
        assert reply.body["tier"] == "primary" and reply.body["shed"] is False, reply.body
        assert reply.seconds >= SLOW_PRIMARY_MS / 1000


def _assert_invalid_stays_4xx(replies: list[Reply]) -> None:
    for reply in replies:
        assert reply.status == 422, (reply.status, reply.body)
        assert set(reply.body) == {"error", "detail"} and not reply.shed


def test_degrade_answers_the_excess_at_once_from_the_rules_tier() -> None:
    with running_stack(_options("degrade")) as stack, Gateway(stack.gateway_url) as gateway:
        # An entity with a cached answer: if a shed request consulted the cache, its tier would say so.
        assert gateway.tier(entity_id=CACHED_ENTITY) == "primary"
        with direct_redis(stack) as direct:
            wait_until(lambda: direct.exists(f"answer:{CACHED_ENTITY}"), 2, "the answer to be cached")
        shed_before = {mode: _shed_total(gateway, mode) for mode in ("degrade", "reject")}
        rules_before = gateway.sample("mlchaos_gateway_requests_total", tier="rules")
        fast_before, all_before = _fast_and_all(gateway)
        bodies = (
            [HEALTHY_BODY] * 2
            + [{**NO_RISK, "entity_id": CACHED_ENTITY}] * 4
            + [INVALID] * 2
            + [HEALTHY_BODY] * 12
        )
        result = _slow_burst(stack, bodies)

        assert all(reply.status < 500 for reply in result.replies)
        _assert_invalid_stays_4xx([r for r in result.replies if r.sent is INVALID])
        valid = [r for r in result.replies if r.sent is not INVALID]
        shed = [r for r in valid if r.shed]
        _assert_admitted([r for r in valid if not r.shed])
        assert len(shed) >= len(valid) // 2, [(r.status, r.body["tier"]) for r in valid]
        for reply in shed:
            assert reply.status == 200
            body = PredictResponse.model_validate(reply.body)  # the documented shape, strictly
            assert body.shed is True and reply.headers["X-Tier"] == body.tier
            assert reply.seconds < FAST_S, reply.seconds
            reasons = [s.reason for s in body.skipped]
            assert "load shed" in reasons[0] and f"max_in_flight is {LIMIT}" in reasons[0]
            if "merchant_risk" in reply.sent:
                assert body.tier == "rules"
                assert [s.tier for s in body.skipped] == ["primary", "fallback"]
            else:  # the rules decline; the cache is not asked although it holds an answer
                assert body.tier == "static"
                assert [s.tier for s in body.skipped] == ["primary", "fallback", "rules", "cache"]
                assert "load shed" in body.skipped[3].reason
        assert {r.body["tier"] for r in shed} == {"rules", "static"}
        assert _fast_and_all(gateway) == (fast_before + len(shed), all_before + len(shed))

        # While the burst was in flight: never more than the limit in the chain, and still ready.
        assert 0 < _in_flight(result.metrics_during) <= LIMIT
        assert result.ready_during == 200
        assert gateway.ready().status_code == 200
        metrics = gateway.metrics()
        assert _in_flight(metrics) == 0
        shed_key = ("mlchaos_gateway_shed_total", frozenset({("mode", "degrade")}))
        assert metrics[shed_key] == shed_before["degrade"] + len(shed)
        reject_key = ("mlchaos_gateway_shed_total", frozenset({("mode", "reject")}))
        assert metrics[reject_key] == shed_before["reject"]
        rules_shed = sum(r.body["tier"] == "rules" for r in shed)
        rules_key = ("mlchaos_gateway_requests_total", frozenset({("tier", "rules")}))
        assert metrics[rules_key] == rules_before + rules_shed
        # Below the limit nothing is shed.
        answer = gateway.answer()
        assert answer["tier"] == "primary" and answer["shed"] is False


def test_reject_answers_the_excess_with_429() -> None:
    with (
        running_stack(_options("reject")) as stack,
        Gateway(stack.gateway_url) as gateway,
    ):
        assert gateway.tier() == "primary"
        before = gateway.sample("mlchaos_gateway_responses_total", status="429")
        result = _slow_burst(stack, [HEALTHY_BODY] * 4 + [INVALID] * 2 + [HEALTHY_BODY] * 14)

        assert all(reply.status < 500 for reply in result.replies)
        _assert_invalid_stays_4xx([r for r in result.replies if r.sent is INVALID])
        valid = [r for r in result.replies if r.sent is not INVALID]
        rejected = [r for r in valid if r.status == 429]
        _assert_admitted([r for r in valid if r.status != 429])
        assert len(rejected) >= len(valid) // 2
        for reply in rejected:
            assert reply.body["error"] == "overloaded"
            assert set(reply.body) == {"error", "detail"}
            assert f"max_in_flight is {LIMIT}" in reply.body["detail"][0]["msg"]
            assert reply.headers["Retry-After"] == "1" and reply.shed
            assert reply.headers["X-Request-ID"]
            assert reply.seconds < FAST_S, reply.seconds
        assert 0 < _in_flight(result.metrics_during) <= LIMIT
        assert result.ready_during == 200
        assert gateway.sample("mlchaos_gateway_responses_total", status="429") == before + len(rejected)
        assert _shed_total(gateway, "reject") == len(rejected)
        assert _shed_total(gateway, "degrade") == 0
        assert _in_flight(gateway.metrics()) == 0
