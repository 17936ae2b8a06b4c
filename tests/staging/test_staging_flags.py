"""Each broken-variant flag does exactly what its docstring says, on a real stack of its own.

The healthy counterparts of these checks are in test_staging_gateway.py (same faults, default stack).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from staging_helpers import ABSURD_AMOUNT, HEALTHY_BODY, Gateway, Toxiproxy, burst, running_stack

from mlchaos.staging import PROXIES, BreakerOptions, StackFlag, StackOptions
from mlchaos.staging.data import sample_requests
from mlchaos.staging.options import DriftOptions, ReviewOptions

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
        # The static default's answer, its confidence capped because the input is out of distribution.
        assert (answer["prediction"], answer["confidence"]) == ("legit", ReviewOptions().ood_max_confidence)
        assert answer["review_reason"] == "ood"
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


# -- the input-fault defenses, broken: one stack with all three flags (they do not interact) ----------

INPUT_FLAGS = (StackFlag.NO_INPUT_VALIDATION, StackFlag.NO_OOD_ROUTING, StackFlag.NO_DRIFT_MONITOR)
SMALL_DRIFT = DriftOptions(window=100, min_samples=50, interval_s=0.05)


@pytest.fixture(scope="module")
def unguarded() -> Iterator[Gateway]:
    with (
        running_stack(StackOptions(flags=INPUT_FLAGS, drift=SMALL_DRIFT)) as stack,
        Gateway(stack.gateway_url) as gateway,
    ):
        yield gateway


@pytest.mark.parametrize(
    "raw",
    [
        b'{"entity_id": "u0001", "amount": NaN, "merchant_risk": 0.2}',
        b'{"entity_id": "u0001", "amount": null, "merchant_risk": 0.2}',
        b'{"entity_id": "u0001", "amount": "42.5", "merchant_risk": 0.2}',
        b'{"entity_id": "u0001", "amount": 42.5, "merchant_risk": Infinity}',
        b'{"entity_id": "u0001"}',
        b"[1, 2]",
    ],
    ids=["NaN", "null", "wrong type", "Infinity", "missing amount", "array"],
)
def test_no_input_validation_lets_bad_input_reach_the_models_and_fail_with_500(
    unguarded: Gateway, raw: bytes
) -> None:
    before = unguarded.sample("mlchaos_gateway_responses_total", status="500")
    response = unguarded.client.post("/predict", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 500
    assert response.json() == {"error": "internal error", "detail": []}
    assert unguarded.sample("mlchaos_gateway_responses_total", status="500") == before + 1
    # Only the bad request failed: the service is live and serves good ones.
    assert unguarded.client.get("/health/live").status_code == 200
    assert unguarded.tier() == "primary"


def test_no_input_validation_still_checks_content_type_and_size(unguarded: Gateway) -> None:
    headers = {"Content-Type": "text/plain"}
    assert unguarded.client.post("/predict", content=b"{}", headers=headers).status_code == 415
    assert unguarded.predict(note="x" * 100_000).status_code == 413
    malformed = unguarded.client.post(
        "/predict", content=b'{"amount": ', headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400


def test_no_ood_routing_serves_garbage_from_the_primary_with_high_confidence(unguarded: Gateway) -> None:
    response = unguarded.predict(amount=ABSURD_AMOUNT)
    answer = response.json()
    assert response.status_code == 200
    assert answer["ood_score"] == 1.0  # the gateway knows, and serves it anyway
    assert answer["tier"] == "primary" and answer["confidence"] >= 0.9
    assert answer["review"] is False and answer["review_reason"] is None
    assert "X-Review" not in response.headers
    borderline = [unguarded.answer(body) for body, _ in sample_requests(100, seed=41)]
    assert any(a["confidence"] < ReviewOptions().review_confidence for a in borderline)
    assert not any(a["review"] for a in borderline)  # low confidence goes unflagged too


def test_no_drift_monitor_never_alarms(unguarded: Gateway) -> None:
    for body, _ in sample_requests(3 * SMALL_DRIFT.window, seed=5):
        assert unguarded.predict(body, amount=body["amount"] * 5).status_code == 200  # every request shifted
    metrics = unguarded.metrics()
    assert metrics[("mlchaos_gateway_drift_alarm", frozenset())] == 0
    assert metrics[("mlchaos_gateway_drift_alarms_total", frozenset())] == 0
    assert metrics[("mlchaos_gateway_drift_score", frozenset({("feature", "amount")}))] == 0
