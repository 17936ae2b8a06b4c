"""Driving a real embedded stack from tests: its gateway, toxiproxy's HTTP API and supervisord's XML-RPC.

Everything here talks to real processes; nothing is mocked. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import psutil
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

from mlchaos.staging import BreakerOptions, EmbeddedStack, StackEndpoints, StackOptions
from mlchaos.staging.config import CONFIG_FILE, StackConfig
from mlchaos.staging.supervisor import supervisor_proxy

# Short breaker timings, so that open -> half-open -> closed fits in a test; restart_delay_s long enough to
# tell apart from the primary server's own start-up time, short enough to wait for.
TEST_OPTIONS = StackOptions(
    breaker=BreakerOptions(failure_threshold=3, recovery_timeout_s=1.0, half_open_successes=2),
    restart_delay_s=4.0,
)

HEALTHY_BODY: dict[str, Any] = {
    "entity_id": "u0001",
    "amount": 42.5,
    "hour": 14,
    "merchant_risk": 0.2,
    "is_foreign": False,
}
ABSURD_AMOUNT = 5e8
"""Valid, but so far outside the training data that the fallback model declines it (ood_score > 0.9)."""


Metrics = dict[tuple[str, frozenset[tuple[str, str]]], float]
"""Every sample of /metrics, keyed by (sample name, labels)."""


def parse_metrics(text: str) -> Metrics:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


class Gateway:
    """The gateway's HTTP API, through one keep-alive client (close it, or use it as a context manager)."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.client = httpx.Client(base_url=url, timeout=timeout_s)

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def predict(self, body: dict[str, Any] | None = None, **overrides: Any) -> httpx.Response:
        return self.client.post("/predict", json={**(body or HEALTHY_BODY), **overrides})

    def answer(self, body: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
        """A 200 answer's JSON (and a check that the header agrees with it)."""
        response = self.predict(body, **overrides)
        assert response.status_code == 200, response.text
        payload: dict[str, Any] = response.json()
        assert response.headers["X-Tier"] == payload["tier"]
        return payload

    def tier(self, body: dict[str, Any] | None = None, **overrides: Any) -> str:
        return str(self.answer(body, **overrides)["tier"])

    def metrics(self) -> Metrics:
        """Every sample of /metrics, keyed by (sample name, labels); also checks the text parses."""
        response = self.client.get("/metrics")
        assert response.status_code == 200
        return parse_metrics(response.text)

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics().get((name, frozenset(labels.items())), 0.0)

    def breaker_state(self, dependency: str) -> str:
        states = [
            dict(labels)["state"]
            for (name, labels), value in self.metrics().items()
            if name == "mlchaos_gateway_breaker_state"
            and dict(labels)["dependency"] == dependency
            and value == 1
        ]
        assert len(states) == 1, states
        return states[0]

    def ready(self) -> httpx.Response:
        return self.client.get("/health/ready")


@dataclass(frozen=True)
class Reply:
    """One ``POST /predict`` of a burst: what was sent, what came back, and how long it took."""

    sent: dict[str, Any]
    status: int
    headers: httpx.Headers
    body: Any
    seconds: float

    @property
    def shed(self) -> bool:
        """Marked as shed by the gateway (the header; tests check the body agrees)."""
        return self.headers.get("X-Shed") == "1"


@dataclass(frozen=True)
class Burst:
    replies: list[Reply]
    metrics_during: Metrics
    """/metrics scraped while the burst was in flight (``probe_after_s`` in)."""
    ready_during: int
    """The status of /health/ready asked at the same moment."""


def burst(url: str, bodies: Sequence[dict[str, Any]], probe_after_s: float = 0.3) -> Burst:
    """POST every body to the gateway at once, each on its own already-open connection (loopback only), and
    scrape /metrics and /health/ready ``probe_after_s`` into the burst."""
    return asyncio.run(_burst(url, bodies, probe_after_s))


async def _burst(url: str, bodies: Sequence[dict[str, Any]], probe_after_s: float) -> Burst:
    assert url.startswith("http://127.0.0.1:"), url
    connections = len(bodies) + 2  # + the two probes
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, timeout=10.0, limits=limits) as client:
        # Open every connection first (with a request the gateway never sheds): the burst itself then measures
        # the gateway, not TCP handshakes.
        warm = await asyncio.gather(*(client.get("/health/live") for _ in range(connections)))
        assert all(response.status_code == 200 for response in warm)

        async def post(body: dict[str, Any]) -> Reply:
            started = time.perf_counter()
            response = await client.post("/predict", json=body)
            seconds = time.perf_counter() - started
            return Reply(body, response.status_code, response.headers, response.json(), seconds)

        async def probe() -> tuple[Metrics, int]:
            await asyncio.sleep(probe_after_s)
            metrics, ready = await asyncio.gather(client.get("/metrics"), client.get("/health/ready"))
            assert metrics.status_code == 200
            return parse_metrics(metrics.text), ready.status_code

        replies, (metrics_during, ready_during) = await asyncio.gather(
            asyncio.gather(*(post(body) for body in bodies)), probe()
        )
    return Burst(list(replies), metrics_during, ready_during)


class Toxiproxy:
    """Toxiproxy's HTTP API (plain requests, as an operator would use it)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = requests.post(f"{self.url}{path}", json=body, timeout=5)
        assert response.ok, response.text
        return response.json() if response.content else None

    def set_enabled(self, proxy: str, enabled: bool) -> None:
        self._post(f"/proxies/{proxy}", {"enabled": enabled})

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._post("/reset")

    def proxies(self) -> dict[str, Any]:
        response = requests.get(f"{self.url}/proxies", timeout=5)
        assert response.ok
        result: dict[str, Any] = response.json()
        return result

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
    def toxic(self, proxy: str, kind: str, **attributes: Any) -> Iterator[None]:
        name = f"test_{kind}"
        self._post(f"/proxies/{proxy}/toxics", {"name": name, "type": kind, "attributes": attributes})
        try:
            yield
        finally:
            response = requests.delete(f"{self.url}/proxies/{proxy}/toxics/{name}", timeout=5)
            assert response.ok, response.text


@contextlib.contextmanager
def supervisor(url: str) -> Iterator[Any]:
    """supervisord's XML-RPC namespace ``supervisor`` (e.g. ``.getProcessInfo("gateway")``), over its socket."""
    with supervisor_proxy(url) as proxy:
        yield proxy.supervisor


def direct_redis(stack: StackEndpoints) -> redis.Redis:
    """The stack's redis, bypassing toxiproxy (with its password)."""
    return redis.Redis.from_url(stack.redis_url, password=stack.redis_password)


def stack_pids(endpoints: StackEndpoints) -> list[int]:
    """supervisord and everything it runs."""
    process = psutil.Process(endpoints.supervisord_pid)
    return [process.pid, *(child.pid for child in process.children(recursive=True))]


def stack_ports(endpoints: StackEndpoints) -> list[int]:
    config = StackConfig.read(endpoints.workdir / CONFIG_FILE)
    return [
        config.redis_port,
        config.toxiproxy_port,
        config.primary_port,
        config.gateway_port,
        *config.proxy_ports.values(),
    ]


def port_is_free(port: int) -> bool:
    """A new server could listen on ``port`` (as servers do, with SO_REUSEADDR: connections of the old one may
    linger in TIME_WAIT, but no process listens there any more)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
        return True


def assert_all_gone(pids: list[int], ports: list[int]) -> None:
    """No process of the stack is left (zombies count as gone) and every port it used is free again."""
    alive = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.append((pid, process.name()))
    assert not alive, f"still running: {alive}"
    busy = [port for port in ports if not port_is_free(port)]
    assert not busy, f"ports still in use: {busy}"


@contextlib.contextmanager
def running_stack(options: StackOptions) -> Iterator[StackEndpoints]:
    """A real stack for the ``with`` block; afterwards nothing of it is left, and stopping is idempotent."""
    with EmbeddedStack(options) as stack:
        endpoints = stack.endpoints
        pids, ports = stack_pids(endpoints), stack_ports(endpoints)
        yield endpoints
    assert_all_gone(pids, ports)
    assert not endpoints.workdir.exists()
    stack.stop()  # a second stop is a no-op
