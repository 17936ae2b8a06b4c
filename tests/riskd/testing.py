"""Driving a running riskd stack from tests: its API, its metrics, toxiproxy's HTTP API. Loopback only;
every wait bounded. Also meant for the harness tests that point mlchaos at riskd."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

from riskd.config import TIERS
from riskd.data import transactions
from riskd.stack import RiskdEndpoints

Metrics = dict[tuple[str, frozenset[tuple[str, str]]], float]
"""Every sample of /internal/metrics, keyed by (sample name, labels)."""

CLEAN_BODY: dict[str, Any] = {
    "customer_ref": "C-00042",
    "value_eur": 12.5,
    "channel": "web",
    "country": "DE",
    "night": False,
    "basket_items": 3,
}


def _loopback(url: str) -> str:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"tests talk to 127.0.0.1 only, not {url}")
    return url


def parse_metrics(text: str) -> Metrics:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def clean_bodies(n: int, seed: int = 11) -> list[dict[str, Any]]:
    return [row["body"] for row in transactions(n, seed)]


class RiskApi:
    """risk-api through one keep-alive client (use it as a context manager)."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.client = httpx.Client(base_url=_loopback(url), timeout=timeout_s)

    def __enter__(self) -> RiskApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def score(self, body: dict[str, Any] | None = None, **overrides: Any) -> httpx.Response:
        return self.client.post("/api/v2/score", json={**(body or CLEAN_BODY), **overrides})

    def tier(self, body: dict[str, Any] | None = None, **overrides: Any) -> str:
        response = self.score(body, **overrides)
        assert response.status_code == 200, response.text
        return response.headers["X-Served-By"]

    def metrics(self) -> Metrics:
        response = self.client.get("/internal/metrics")
        assert response.status_code == 200, response.text
        return parse_metrics(response.text)

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics().get((name, frozenset(labels.items())), 0.0)

    def circuit(self, upstream: str) -> int:
        """0 closed, 1 open, 2 half-open."""
        return int(self.sample("riskd_upstream_circuit", upstream=upstream))

    def changes(self, upstream: str, old: str, new: str) -> float:
        labels = {"upstream": upstream, "from": old, "to": new}
        return self.sample("riskd_circuit_changes_total", **labels)


class Toxiproxy:
    """toxiproxy-server's HTTP API."""

    def __init__(self, url: str) -> None:
        self.url = _loopback(url)

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.post(f"{self.url}{path}", json=body, timeout=5.0)
        assert response.is_success, response.text
        return response.json() if response.content else None

    def set_enabled(self, proxy: str, enabled: bool) -> None:
        self._post(f"/proxies/{proxy}", {"enabled": enabled})

    def reset(self) -> None:
        """Every proxy enabled, every toxic gone."""
        self._post("/reset")

    @contextlib.contextmanager
    def disabled(self, *proxies: str) -> Iterator[None]:
        for proxy in proxies:
            self.set_enabled(proxy, False)
        try:
            yield
        finally:
            for proxy in proxies:
                self.set_enabled(proxy, True)

    @contextlib.contextmanager
    def latency(self, proxy: str, ms: int) -> Iterator[None]:
        """Every reply from the upstream delayed by ``ms``."""
        name = f"test_latency_{proxy}"
        toxic = {"name": name, "type": "latency", "stream": "downstream", "attributes": {"latency": ms}}
        self._post(f"/proxies/{proxy}/toxics", toxic)
        try:
            yield
        finally:
            httpx.delete(f"{self.url}/proxies/{proxy}/toxics/{name}", timeout=5.0)


def assert_gone(endpoints: RiskdEndpoints) -> None:
    """Nothing of a stopped stack may be left: no process naming its files, no workdir."""
    marker = str(endpoints.workdir)
    leftovers = [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if any(arg.startswith(marker) for arg in (p.info.get("cmdline") or []))
    ]
    assert leftovers == [], f"processes of {marker} survived stop(): {leftovers}"
    assert not endpoints.workdir.exists()


def check_answer(response: httpx.Response) -> dict[str, Any]:
    """A 200 answer in riskd's documented shape, internally consistent; returns its JSON."""
    assert response.status_code == 200, response.text
    assert response.headers["X-Served-By"] in TIERS
    payload: dict[str, Any] = response.json()
    assert set(payload) == {"outputs", "meta"}
    (output,) = payload["outputs"]
    assert output["name"] == "decision"
    decision, p_block = output["data"]
    assert decision in ("block", "allow") and 0.0 <= p_block <= 1.0
    assert (decision == "block") == (p_block > 0.5)
    meta = payload["meta"]
    assert set(meta) == {"confidence", "needs_review", "review_reason", "load_shed", "request"}
    assert 0.5 <= meta["confidence"] <= 1.0
    assert math.isclose(meta["confidence"], max(p_block, 1 - p_block), abs_tol=1e-5)
    assert meta["needs_review"] == (meta["review_reason"] is not None)
    assert meta["review_reason"] in (None, "ood", "low_confidence")
    if meta["review_reason"] != "ood":
        assert (meta["review_reason"] == "low_confidence") == (meta["confidence"] < 0.55)
    assert meta["request"] == response.headers["X-Correlation-Id"]
    return payload


async def _burst(url: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=len(bodies))
    async with httpx.AsyncClient(base_url=url, timeout=10.0, limits=limits) as client:
        # Open every connection first, so that the burst arrives at once.
        await asyncio.gather(*(client.get("/healthz") for _ in bodies))
        return list(await asyncio.gather(*(client.post("/api/v2/score", json=body) for body in bodies)))


def burst(url: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    """POST every body at once, each on a connection of its own opened beforehand."""
    return asyncio.run(_burst(_loopback(url), bodies))
