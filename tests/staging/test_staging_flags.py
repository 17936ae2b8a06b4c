"""Each broken-variant flag does exactly what its docstring says, on a real stack of its own.

The healthy counterparts of these checks are in test_staging_gateway.py (same faults, default stack).
"""

from __future__ import annotations

import time

import httpx
import pytest
from staging_helpers import ABSURD_AMOUNT, HEALTHY_BODY, Gateway, Toxiproxy, burst, running_stack

from mlchaos.staging import PROXIES, BreakerOptions, StackFlag, StackOptions

pytestmark = pytest.mark.stack

BREAKER = BreakerOptions(failure_threshold=2, recovery_timeout_s=0.5, half_open_successes=1)


def _options(flag: StackFlag) -> StackOptions:
    return StackOptions(flags=(flag,), breaker=BREAKER)


def test_disable_fallback_model_drops_a_feature_store_outage_straight_to_rules() -> None:
    with (
        running_stack(_options(StackFlag.DISABLE_FALLBACK_MODEL)) as stack,
        Gateway(stack.gateway_url) as gateway,
    ):
        assert gateway.tier() == "primary"
        Toxiproxy(stack.toxiproxy_url).set_enabled(PROXIES["feature_store"], False)
        answer = gateway.answer()
        assert answer["tier"] == "rules"
        fallback = answer["skipped"][1]
        assert fallback["tier"] == "fallback" and "disable_fallback_model" in fallback["reason"]


def test_breaker_never_closes_keeps_the_primary_tier_away_after_a_fault() -> None:
    with (
        running_stack(_options(StackFlag.BREAKER_NEVER_CLOSES)) as stack,
        Gateway(stack.gateway_url) as gateway,
    ):
        toxiproxy = Toxiproxy(stack.toxiproxy_url)
        with toxiproxy.disabled(PROXIES["primary_model"]):
            for _ in range(BREAKER.failure_threshold):
                assert gateway.tier() == "fallback"
        assert gateway.breaker_state("primary_model") == "open"
        time.sleep(BREAKER.recovery_timeout_s * 3)  # long past the point where a breaker would half-open
        assert gateway.breaker_state("primary_model") == "open"
        answer = gateway.answer()
        assert answer["tier"] == "fallback"
        assert "never" in answer["skipped"][0]["reason"]
        assert gateway.ready().status_code == 503
        # The other breakers work the same way: the feature store's never recovers either.
        with toxiproxy.disabled(PROXIES["feature_store"]):
            for _ in range(BREAKER.failure_threshold):
                gateway.answer()
        time.sleep(BREAKER.recovery_timeout_s * 3)
        assert gateway.breaker_state("feature_store") == "open"


def test_no_feature_store_timeout_lets_a_blackholed_store_stall_requests() -> None:
    with (
        running_stack(_options(StackFlag.NO_FEATURE_STORE_TIMEOUT)) as stack,
        Gateway(stack.gateway_url) as gateway,
    ):
        assert gateway.tier() == "primary"
        toxiproxy = Toxiproxy(stack.toxiproxy_url)
        # The healthy stack answers from the fallback tier after 100 ms; this one is still waiting at 2 s.
        with (
            toxiproxy.toxic(PROXIES["feature_store"], "timeout", timeout=0),
            Gateway(stack.gateway_url, timeout_s=2.0) as impatient,
            pytest.raises(httpx.ReadTimeout),
        ):
            impatient.predict()
        # Other dependencies still have their timeouts: a slow primary model costs 300 ms, not more.
        with toxiproxy.toxic(PROXIES["primary_model"], "latency", latency=2000):
            started = time.monotonic()
            assert gateway.tier(entity_id="u0002") == "fallback"
            assert time.monotonic() - started < 1.5


def test_static_labelled_primary_lies_about_the_tier() -> None:
    with (
        running_stack(_options(StackFlag.STATIC_LABELLED_PRIMARY)) as stack,
        Gateway(stack.gateway_url) as gateway,
    ):
        # Every tier above static declines: feature store and cache down, the fallback refuses an absurd
        # amount, the rules lack merchant_risk.
        body = {**HEALTHY_BODY, "amount": ABSURD_AMOUNT}
        del body["merchant_risk"]
        primary_before = gateway.sample("mlchaos_gateway_requests_total", tier="primary")
        with Toxiproxy(stack.toxiproxy_url).disabled(PROXIES["feature_store"], PROXIES["cache"]):
            response = gateway.predict(body)
        answer = response.json()
        assert response.status_code == 200
        assert answer["tier"] == response.headers["X-Tier"] == "primary"  # the lie
        assert (answer["prediction"], answer["score"]) == ("legit", 0.2)  # the static default's answer
        assert [s["tier"] for s in answer["skipped"]] == ["primary", "fallback", "rules", "cache"]
        assert gateway.sample("mlchaos_gateway_requests_total", tier="primary") == primary_before + 1
        assert gateway.sample("mlchaos_gateway_requests_total", tier="static") == 0


def test_no_load_shedding_lets_a_burst_pile_up_on_the_slow_primary() -> None:
    # As in test_staging_load_shedding.py: a primary slowed by 1 s, below its (raised) timeout.
    limit, slow_ms = 2, 1000
    options = StackOptions(flags=(StackFlag.NO_LOAD_SHEDDING,), max_in_flight=limit, primary_timeout_ms=2500)
    with running_stack(options) as stack, Gateway(stack.gateway_url) as gateway:
        assert gateway.tier() == "primary"
        toxiproxy = Toxiproxy(stack.toxiproxy_url)
        with toxiproxy.toxic(PROXIES["primary_model"], "latency", latency=slow_ms):
            result = burst(stack.gateway_url, [HEALTHY_BODY] * 20)
        # The healthy gateway would have answered all but two at once; here every request waits for the slow
        # primary, and the in-flight gauge shows the pile-up the limit should have prevented.
        assert all(r.status == 200 and not r.shed and r.body["shed"] is False for r in result.replies)
        assert all(r.seconds >= slow_ms / 1000 for r in result.replies)
        assert all(r.body["tier"] == "primary" for r in result.replies)
        assert result.metrics_during[("mlchaos_gateway_in_flight", frozenset())] > limit
        assert gateway.sample("mlchaos_gateway_shed_total", mode="degrade") == 0
        assert gateway.sample("mlchaos_gateway_shed_total", mode="reject") == 0
        assert gateway.sample("mlchaos_gateway_in_flight") == 0
