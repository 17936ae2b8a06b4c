"""The in-flight limit and the shed answers, in-process and deterministic (no stack, no sleeping).

The slots are taken by hand, so every request the test sends finds the gateway full. Its dependencies point at
a closed port and are rigged to fail the test if touched: a shed request must not call any of them. The real
burst against a slowed primary model is in test_staging_load_shedding.py.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from staging_helpers import HEALTHY_BODY, parse_metrics

from mlchaos.staging import StackFlag, StackOptions
from mlchaos.staging.config import StackConfig
from mlchaos.staging.endpoints import PROXIES
from mlchaos.staging.gateway.admission import InFlightLimit
from mlchaos.staging.gateway.app import create_app
from mlchaos.staging.gateway.service import Gateway, build_gateway
from mlchaos.staging.options import ShedMode
from mlchaos.staging.schemas import PredictResponse

LIMIT = 2


def test_limit_counts_and_refuses_beyond_its_ceiling() -> None:
    seen: list[int] = []
    limit = InFlightLimit(LIMIT, on_change=seen.append)
    assert limit.try_enter() and limit.try_enter()
    assert not limit.try_enter()
    assert limit.in_flight == LIMIT and "2 requests in flight, max_in_flight is 2" in limit.describe()
    limit.leave()
    assert limit.try_enter()
    limit.leave()
    limit.leave()
    limit.leave()  # one leave too many does not go below zero
    assert limit.in_flight == 0
    assert seen == [1, 2, 1, 2, 1, 0, 0]
    with pytest.raises(ValueError):
        InFlightLimit(0)


def test_an_unenforced_limit_only_counts() -> None:
    limit = InFlightLimit(1, enforced=False)
    assert all(limit.try_enter() for _ in range(5))
    assert limit.in_flight == 5


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _gateway(tmp_path: Path, shed_mode: ShedMode, *flags: StackFlag) -> Gateway:
    port = _closed_port()
    config = StackConfig(
        options=StackOptions(max_in_flight=LIMIT, shed_mode=shed_mode, flags=flags),
        workdir=tmp_path,
        redis_port=port,
        redis_password="unused",
        toxiproxy_port=port,
        primary_port=port,
        gateway_port=port,
        proxy_ports=dict.fromkeys(PROXIES, port),
    )
    return build_gateway(config)


@pytest.fixture()
def untouchable(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every remote call of any gateway built in the test is recorded here (and fails)."""
    calls: list[str] = []

    def rig(cls: type, method: str) -> None:
        async def called(*args: Any, **kwargs: Any) -> Any:
            calls.append(f"{cls.__name__}.{method}")
            raise AssertionError("a shed request called a remote dependency")

        monkeypatch.setattr(cls, method, called)

    from mlchaos.staging.gateway import dependencies

    for cls, methods in (
        (dependencies.FeatureStore, ("get", "ping")),
        (dependencies.AnswerCache, ("get", "put", "ping")),
        (dependencies.PrimaryModelClient, ("score", "ping")),
    ):
        for method in methods:
            rig(cls, method)
    yield calls


def _post_when_full(gateway: Gateway, bodies: list[Any]) -> tuple[list[httpx.Response], str]:
    """POST each body with every slot taken; also the /metrics text afterwards."""

    async def run() -> tuple[list[httpx.Response], str]:
        for _ in range(LIMIT):
            assert gateway.limit.try_enter()
        transport = httpx.ASGITransport(app=create_app(gateway))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                responses = [await client.post("/predict", json=body) for body in bodies]
                metrics = (await client.get("/metrics")).text
        finally:
            await gateway.close()
        return responses, metrics

    return asyncio.run(run())


def _sample(metrics: str, name: str, **labels: str) -> float:
    return parse_metrics(metrics)[(name, frozenset(labels.items()))]


def test_degrade_answers_from_rules_else_static(tmp_path: Path, untouchable: list[str]) -> None:
    no_risk = {key: value for key, value in HEALTHY_BODY.items() if key != "merchant_risk"}
    gateway = _gateway(tmp_path, "degrade")
    (rules, static, invalid), metrics = _post_when_full(gateway, [HEALTHY_BODY, no_risk, {"amount": 1.0}])
    for response, tier in ((rules, "rules"), (static, "static")):
        assert response.status_code == 200
        body = PredictResponse.model_validate(response.json())
        assert body.tier == tier and body.shed is True
        assert response.headers["X-Tier"] == tier and response.headers["X-Shed"] == "1"
        assert body.skipped[0].tier == "primary" and "load shed" in body.skipped[0].reason
    assert [s["tier"] for s in static.json()["skipped"]] == ["primary", "fallback", "rules", "cache"]
    assert invalid.status_code == 422 and "X-Shed" not in invalid.headers  # validation first
    assert untouchable == []
    assert _sample(metrics, "mlchaos_gateway_shed_total", mode="degrade") == 2
    assert _sample(metrics, "mlchaos_gateway_in_flight") == LIMIT  # the two slots taken by hand
    assert _sample(metrics, "mlchaos_gateway_requests_total", tier="rules") == 1
    assert _sample(metrics, "mlchaos_gateway_responses_total", status="200") == 2


def test_reject_answers_429_overloaded(tmp_path: Path, untouchable: list[str]) -> None:
    gateway = _gateway(tmp_path, "reject")
    (rejected, invalid), metrics = _post_when_full(gateway, [HEALTHY_BODY, {**HEALTHY_BODY, "hour": 25}])
    assert rejected.status_code == 429
    assert rejected.json() == {
        "error": "overloaded",
        "detail": [
            {"loc": [], "msg": "load shed: 2 requests in flight, max_in_flight is 2", "type": "overloaded"}
        ],
    }
    assert rejected.headers["Retry-After"] == "1" and rejected.headers["X-Shed"] == "1"
    assert rejected.headers["X-Request-ID"]
    assert invalid.status_code == 422
    assert untouchable == []
    assert _sample(metrics, "mlchaos_gateway_shed_total", mode="reject") == 1
    assert _sample(metrics, "mlchaos_gateway_shed_total", mode="degrade") == 0
    assert _sample(metrics, "mlchaos_gateway_responses_total", status="429") == 1


def test_no_load_shedding_sends_everything_down_the_chain(tmp_path: Path, untouchable: list[str]) -> None:
    gateway = _gateway(tmp_path, "degrade", StackFlag.NO_LOAD_SHEDDING)
    (response,), metrics = _post_when_full(gateway, [HEALTHY_BODY])
    assert response.status_code == 200 and response.json()["shed"] is False
    assert "X-Shed" not in response.headers
    assert "FeatureStore.get" in untouchable  # the full chain, dependencies and all
    assert response.json()["tier"] == "fallback"  # the rigged feature store failed
    assert _sample(metrics, "mlchaos_gateway_shed_total", mode="degrade") == 0
    assert _sample(metrics, "mlchaos_gateway_in_flight") == LIMIT  # the slots taken by hand; its own freed
