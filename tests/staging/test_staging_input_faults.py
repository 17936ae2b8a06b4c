"""ML input faults against a real stack: every corrupted request a clean 4xx, OOD input routed and flagged for
review, low-confidence answers flagged, and the drift monitor alarming on a shifted stream.

The broken variants of these mechanisms are in test_staging_flags.py.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import pytest
from staging_helpers import ABSURD_AMOUNT, HEALTHY_BODY, Gateway, running_stack

from mlchaos.staging import StackEndpoints, StackOptions
from mlchaos.staging.data import sample_requests
from mlchaos.staging.gateway.app import MAX_BODY_BYTES
from mlchaos.staging.options import DriftOptions, ReviewOptions
from mlchaos.staging.schemas import PredictResponse

pytestmark = pytest.mark.stack

# A smaller drift window than the default (400), so a test fills it with a few hundred requests; the alarm
# threshold is the default one.
DRIFT = DriftOptions(window=200, min_samples=50, interval_s=0.05)
OPTIONS = StackOptions(drift=DRIFT)
REVIEW = ReviewOptions()


@pytest.fixture(scope="module")
def stack() -> Iterator[StackEndpoints]:
    """Overrides conftest's stack for this module: default options but the small drift window."""
    with running_stack(OPTIONS) as endpoints:
        yield endpoints


def _raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def _with(**fields: Any) -> dict[str, Any]:
    return {**HEALTHY_BODY, **fields}


def _without(*names: str) -> dict[str, Any]:
    return {key: value for key, value in HEALTHY_BODY.items() if key not in names}


JSON = "application/json"
HEALTHY_RAW = _raw(HEALTHY_BODY)
# What the harness's corrupted-input mutators send, each with the status the gateway must answer.
CORRUPTED: dict[str, tuple[bytes, str, int]] = {
    # id: (raw body, content type, expected status)
    "null amount": (_raw(_with(amount=None)), JSON, 422),
    "null entity_id": (_raw(_with(entity_id=None)), JSON, 422),
    "null optional hour": (_raw(_with(hour=None)), JSON, 422),
    "null optional merchant_risk": (_raw(_with(merchant_risk=None)), JSON, 422),
    "NaN literal": (HEALTHY_RAW.replace(b"42.5", b"NaN"), JSON, 422),
    "Infinity literal": (HEALTHY_RAW.replace(b"42.5", b"Infinity"), JSON, 422),
    "-Infinity literal": (HEALTHY_RAW.replace(b"0.2", b"-Infinity"), JSON, 422),
    "NaN string": (_raw(_with(amount="NaN")), JSON, 422),
    "Infinity string": (_raw(_with(amount="Infinity")), JSON, 422),
    "-Infinity string": (_raw(_with(merchant_risk="-Infinity")), JSON, 422),
    "overflow to infinity": (HEALTHY_RAW.replace(b"42.5", b"1e999"), JSON, 422),
    "amount as string": (_raw(_with(amount="42.5")), JSON, 422),
    "amount as bool": (_raw(_with(amount=True)), JSON, 422),
    "amount as object": (_raw(_with(amount={"value": 1})), JSON, 422),
    "hour as string": (_raw(_with(hour="14")), JSON, 422),
    "is_foreign as string": (_raw(_with(is_foreign="no")), JSON, 422),
    "entity_id as number": (_raw(_with(entity_id=42)), JSON, 422),
    "amount out of range": (_raw(_with(amount=1e12)), JSON, 422),
    "negative amount": (_raw(_with(amount=-0.01)), JSON, 422),
    "hour out of range": (_raw(_with(hour=-1)), JSON, 422),
    "merchant_risk out of range": (_raw(_with(merchant_risk=7.0)), JSON, 422),
    "missing amount": (_raw(_without("amount")), JSON, 422),
    "missing entity_id": (_raw(_without("entity_id")), JSON, 422),
    "unknown extra field": (_raw(_with(device="pos-7")), JSON, 422),
    "renamed field": (_raw({**_without("amount"), "amt": 42.5}), JSON, 422),
    "empty object": (b"{}", JSON, 422),
    "array body": (_raw([HEALTHY_BODY]), JSON, 422),
    "number body": (b"42", JSON, 422),
    "null body": (b"null", JSON, 422),
    "empty body": (b"", JSON, 400),
    "whitespace body": (b"  \n", JSON, 400),
    "malformed JSON": (HEALTHY_RAW.replace(b",", b"", 1), JSON, 400),
    "truncated JSON": (HEALTHY_RAW[: len(HEALTHY_RAW) // 2], JSON, 400),
    "not UTF-8": (HEALTHY_RAW.replace(b"u0001", b"u\xff\xfe1"), JSON, 400),
    "deeply nested arrays": (b'{"entity_id": ' + b"[" * 5000 + b"]" * 5000 + b', "amount": 1}', JSON, 400),
    "deeply nested objects": (
        b'{"entity_id": "u0001", "amount": 1, "x": ' + b'{"a": ' * 1000 + b"1" + b"}" * 1000 + b"}",
        JSON,
        400,
    ),
    "control character escaped": (_raw(_with(entity_id="u00\x0001")), JSON, 422),
    "control character raw": (HEALTHY_RAW.replace(b"u0001", b"u00\x0701"), JSON, 400),
    "newline in entity_id": (_raw(_with(entity_id="u0001\n")), JSON, 422),
    "oversized payload": (_raw(_with(note="x" * (4 * MAX_BODY_BYTES))), JSON, 413),
    "huge payload": (b'{"entity_id": "' + b"u" * 1_048_576 + b'", "amount": 1}', JSON, 413),
    "text/plain": (HEALTHY_RAW, "text/plain", 415),
    "form encoded": (b"entity_id=u0001&amount=42.5", "application/x-www-form-urlencoded", 415),
    "no content type": (HEALTHY_RAW, "", 415),
    "multipart": (HEALTHY_RAW, "multipart/form-data; boundary=x", 415),
}


def _post_raw(gateway: Gateway, raw: bytes, content_type: str) -> httpx.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    return gateway.client.post("/predict", content=raw, headers=headers)


def _assert_json_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text[:300]
    payload = response.json()
    assert set(payload) == {"error", "detail"}
    assert isinstance(payload["error"], str) and payload["error"]
    assert isinstance(payload["detail"], list)


@pytest.mark.parametrize(("raw", "content_type", "status"), CORRUPTED.values(), ids=CORRUPTED.keys())
def test_every_corrupted_request_gets_a_json_4xx(
    gateway: Gateway, raw: bytes, content_type: str, status: int
) -> None:
    before = gateway.sample("mlchaos_gateway_responses_total", status=str(status))
    _assert_json_error(_post_raw(gateway, raw, content_type), status)
    # The gateway itself counted it (not a proxy or the HTTP server in front of the app).
    assert gateway.sample("mlchaos_gateway_responses_total", status=str(status)) == before + 1


def test_a_null_field_error_says_to_omit_it(gateway: Gateway) -> None:
    response = gateway.predict(hour=None)
    _assert_json_error(response, 422)
    (entry,) = response.json()["detail"]
    assert entry["loc"] == ["hour"] and "omit the field" in entry["msg"]


def test_a_chunked_oversized_body_is_refused_without_reading_it_all(gateway: Gateway) -> None:
    def chunks() -> Iterable[bytes]:  # no Content-Length: the limit must hold while streaming
        yield b'{"entity_id": "'
        for _ in range(64):
            yield b"u" * 16_384
        yield b'", "amount": 1}'

    response = gateway.client.post("/predict", content=chunks(), headers={"Content-Type": JSON})
    _assert_json_error(response, 413)


def test_garbage_leaves_the_service_live_and_serving(gateway: Gateway) -> None:
    nasty = ("huge payload", "deeply nested arrays", "deeply nested objects", "NaN literal", "truncated JSON")
    for _ in range(5):
        for name in nasty:
            raw, content_type, status = CORRUPTED[name]
            assert _post_raw(gateway, raw, content_type).status_code == status
    assert gateway.client.get("/health/live").status_code == 200
    assert gateway.ready().status_code == 200
    assert gateway.tier() == "primary"
    assert gateway.sample("mlchaos_gateway_responses_total", status="500") == 0


# -- out-of-distribution routing and review flags ---------------------------------------------------

OOD_BODIES = {
    "absurd amount": _with(amount=ABSURD_AMOUNT),
    "amount x 1000, no merchant_risk": {**_without("merchant_risk"), "amount": 42_500.0},
    "large amount at the riskiest merchant": _with(amount=2000.0, merchant_risk=1.0),
}


@pytest.mark.parametrize("body", OOD_BODIES.values(), ids=OOD_BODIES.keys())
def test_ood_input_is_flagged_and_not_served_by_a_learned_model(
    gateway: Gateway, body: dict[str, Any]
) -> None:
    response = gateway.predict(body)
    assert response.status_code == 200
    answer = PredictResponse.model_validate(response.json())
    assert answer.ood_score >= REVIEW.ood_threshold
    assert answer.review is True and answer.review_reason == "ood"
    assert response.headers["X-Review"] == "1"
    assert answer.tier not in {"primary", "fallback"}
    assert answer.confidence <= REVIEW.ood_max_confidence
    assert [s.tier for s in answer.skipped[:2]] == ["primary", "fallback"]
    assert "out of distribution" in answer.skipped[0].reason


def test_clean_traffic_is_rarely_flagged_and_only_for_low_confidence(gateway: Gateway) -> None:
    bodies = [body for body, _ in sample_requests(300, seed=41, world_seed=OPTIONS.seed)]
    before = gateway.sample("mlchaos_gateway_review_total", reason="low_confidence")
    responses = [gateway.predict(body) for body in bodies]
    answers = [r.json() for r in responses]
    assert all(r.status_code == 200 for r in responses)
    # On a busy machine a primary call may time out now and then; the share is about the primary tier.
    primary = [a for a in answers if a["tier"] == "primary"]
    assert len(primary) >= 0.9 * len(answers)
    flagged_primary = sum(a["review"] for a in primary)
    assert flagged_primary / len(primary) <= 0.06  # ~3 % measured: the primary model's borderline scores
    flagged = [a for a in answers if a["review"]]
    assert all(a["review_reason"] == "low_confidence" for a in flagged)
    for response, answer in zip(responses, answers, strict=True):
        low = answer["confidence"] < REVIEW.review_confidence
        assert answer["review"] is low and (response.headers.get("X-Review") == "1") is low
        assert (answer["review_reason"] is None) is not low
    assert gateway.sample("mlchaos_gateway_review_total", reason="low_confidence") == before + len(flagged)


def test_the_health_canary_stays_on_the_primary_tier(gateway: Gateway) -> None:
    """The fraud canary is extreme but in distribution: routing must not turn the deep health check red."""
    inference = gateway.client.get("/health/inference")
    assert inference.status_code == 200, inference.text
    assert inference.json()["answer"]["review"] is False


# -- the drift monitor ------------------------------------------------------------------------------


def _drift(gateway: Gateway) -> tuple[float, float, dict[str, float]]:
    metrics = gateway.metrics()
    scores = {
        dict(labels)["feature"]: value
        for (name, labels), value in metrics.items()
        if name == "mlchaos_gateway_drift_score"
    }
    alarm = metrics[("mlchaos_gateway_drift_alarm", frozenset())]
    return alarm, metrics[("mlchaos_gateway_drift_alarms_total", frozenset())], scores


def _send(gateway: Gateway, bodies: Iterable[dict[str, Any]]) -> None:
    for body in bodies:
        assert gateway.predict(body).status_code == 200


def _batches(bodies: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for body in bodies:
        batch.append(body)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _clean(n: int, seed: int) -> list[dict[str, Any]]:
    return [body for body, _ in sample_requests(n, seed=seed, world_seed=OPTIONS.seed)]


def _shifted(n: int, seed: int, share: float) -> Iterator[dict[str, Any]]:
    """Clean requests, of which ``share`` have their amount multiplied by 5 (a covariate shift)."""
    coin = random.Random(seed)
    for body in _clean(n, seed):
        yield {**body, "amount": body["amount"] * 5} if coin.random() < share else body


def test_clean_traffic_never_raises_the_drift_alarm(gateway: Gateway) -> None:
    _send(gateway, _clean(DRIFT.window, seed=51))  # the window now holds clean requests only
    _, onsets_before, _ = _drift(gateway)
    for batch in _batches(_clean(2 * DRIFT.window, seed=52), 50):
        _send(gateway, batch)
        alarm, onsets, scores = _drift(gateway)
        assert alarm == 0 and onsets == onsets_before, scores
        assert set(scores) == {"amount", "hour", "merchant_risk", "is_foreign"}
        assert all(0 < score <= DRIFT.threshold for score in scores.values()), scores


def test_a_covariate_shift_raises_the_drift_alarm_until_traffic_is_clean_again(gateway: Gateway) -> None:
    _send(gateway, _clean(DRIFT.window, seed=61))
    alarm, onsets_before, _ = _drift(gateway)
    assert alarm == 0
    shifted = _shifted(2 * DRIFT.window, seed=62, share=0.5)
    for batch in _batches(shifted, 20):  # bounded: two windows of the shifted mix at most
        _send(gateway, batch)
        alarm, onsets, scores = _drift(gateway)
        if alarm:
            break
    assert alarm == 1, f"no drift alarm after two windows of shifted traffic: {scores}"
    assert onsets == onsets_before + 1
    assert scores["amount"] > DRIFT.threshold
    _send(gateway, _clean(DRIFT.window, seed=63))  # the shifted requests have all left the window
    alarm, onsets, _ = _drift(gateway)
    assert alarm == 0 and onsets == onsets_before + 1  # the counter keeps the episode


def test_invalid_requests_never_reach_the_drift_monitor(gateway: Gateway) -> None:
    _send(gateway, _clean(DRIFT.window, seed=71))
    for _ in range(DRIFT.window):  # a full window's worth of absurd but refused amounts
        assert gateway.predict(amount=1e12).status_code == 422
    alarm, _, scores = _drift(gateway)
    assert alarm == 0 and scores["amount"] <= DRIFT.threshold
