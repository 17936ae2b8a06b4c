"""risk-api's calls to its two upstreams, always through their toxiproxy proxies (never directly), each with a
total deadline: httpx's own timeouts are per phase (connect, read, ...), so a slow-drip upstream could
otherwise keep a request far beyond them."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable
from typing import Any

import httpx

from riskd.config import RiskdConfig
from riskd.data import Profile


class UpstreamError(Exception):
    """The upstream did not answer usefully (refused, reset, timed out, 5xx, garbage): a breaker failure."""


class Upstreams:
    def __init__(self, config: RiskdConfig) -> None:
        self._timeouts = {name: config.timeout_s(name) for name in ("profiles", "scorer")}
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        self._profiles = httpx.AsyncClient(
            base_url=config.url(config.ports.profiles_proxy),
            timeout=self._timeouts["profiles"],
            limits=limits,
        )
        self._scorer = httpx.AsyncClient(
            base_url=config.url(config.ports.scorer_proxy), timeout=self._timeouts["scorer"], limits=limits
        )

    async def profile(self, customer_ref: str) -> Profile | None:
        """The customer's profile; None if the store does not know the customer (that is an answer, not a
        failure)."""
        response = await self._call("profiles", self._profiles.get(f"/v1/profiles/{customer_ref}"))
        if response.status_code == 404:
            return None
        try:
            return Profile.from_json(self._ok_json(response))
        except (KeyError, TypeError, ValueError) as exc:
            raise UpstreamError(f"profiles: bad profile {response.text[:200]!r}") from exc

    async def infer(self, features: list[float]) -> float:
        response = await self._call("scorer", self._scorer.post("/v1/infer", json={"features": features}))
        try:
            p = float(self._ok_json(response)["p_block"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UpstreamError(f"scorer: bad answer {response.text[:200]!r}") from exc
        if not 0.0 <= p <= 1.0 or math.isnan(p):
            raise UpstreamError(f"scorer: p_block {p} out of range")
        return p

    async def _call(self, name: str, request: Awaitable[httpx.Response]) -> httpx.Response:
        try:
            async with asyncio.timeout(self._timeouts[name]):
                response = await request
        except TimeoutError as exc:
            raise UpstreamError(f"{name}: no answer within {self._timeouts[name]} s") from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(f"{name}: {type(exc).__name__}: {exc}") from exc
        return response

    @staticmethod
    def _ok_json(response: httpx.Response) -> Any:
        if response.status_code != 200:
            raise UpstreamError(f"HTTP {response.status_code} from {response.request.url.path}")
        return response.json()

    async def aclose(self) -> None:
        await self._profiles.aclose()
        await self._scorer.aclose()
