"""The gateway's remote dependencies, each reached through its toxiproxy proxy and each call bounded in time.

Every failure of a remote call (timeout, refused or dropped connection, an answer we cannot use) is translated
here into one :class:`DependencyError`, so the fallback chain and the breakers see one vocabulary instead of
redis, httpx and socket exceptions.

Reconnecting after an outage needs no special code, but it relies on three choices made here:

- every call runs under ``asyncio.timeout``; a cancelled redis command closes its connection instead of
  returning it to the pool half-read, and httpx discards a cancelled connection the same way;
- redis commands retry once, immediately, on a connection error: after a proxy was disabled and re-enabled,
  the pool still holds connections the proxy has closed, and the first use of each is the only way to know;
- httpx checks that a pooled keep-alive connection is still open before reusing it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final, TypeVar

import httpx
import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from mlchaos.staging.config import HOST
from mlchaos.staging.data import StoreFeatures, feature_store_key
from mlchaos.staging.schemas import PrimaryResponse

T = TypeVar("T")

ANSWER_TTL_S: Final = 24 * 3600
"""How long a cached answer may be served: a day-old answer is stale, but better than the static default."""


class DependencyError(Exception):
    """A remote dependency failed to give a usable answer in time. Counts as a failure for its breaker."""


async def _bounded(dependency: str, timeout_s: float, call: Awaitable[T]) -> T:
    """Await ``call`` for at most ``timeout_s``; every way it can fail becomes a :class:`DependencyError`."""
    try:
        async with asyncio.timeout(timeout_s):
            return await call
    except TimeoutError as exc:
        raise DependencyError(f"{dependency}: no answer within {timeout_s * 1000:.0f} ms") from exc
    except (RedisError, httpx.HTTPError, OSError) as exc:
        raise DependencyError(f"{dependency}: {type(exc).__name__}: {exc}") from exc


def redis_client(port: int, password: str, timeout_s: float) -> aioredis.Redis:
    return aioredis.Redis(
        host=HOST,
        port=port,
        password=password,  # AUTH on every (re)connection: the stack's redis requires it
        decode_responses=True,
        # Socket timeouts back up asyncio.timeout in _bounded; they never fire first.
        socket_connect_timeout=timeout_s * 2,
        socket_timeout=timeout_s * 2,
        retry=Retry(NoBackoff(), retries=1),
    )


class FeatureStore:
    """Store features per entity: one Redis hash each (see :func:`mlchaos.staging.data.feature_store_key`)."""

    name: Final = "feature_store"

    def __init__(self, client: aioredis.Redis, timeout_s: float) -> None:
        self._client = client
        self.timeout_s = timeout_s

    async def get(self, entity_id: str) -> StoreFeatures | None:
        """The entity's features, or ``None`` if the store does not know it (not a failure: new customers)."""
        raw: Mapping[str, str] = await _bounded(
            self.name,
            self.timeout_s,
            self._client.hgetall(feature_store_key(entity_id)),  # type: ignore[arg-type]
        )
        if not raw:
            return None
        try:
            return StoreFeatures.from_redis(raw)
        except (KeyError, ValueError) as exc:
            raise DependencyError(f"{self.name}: corrupt record for {entity_id}: {exc!r}") from exc

    async def ping(self) -> None:
        await _bounded(self.name, self.timeout_s, self._client.ping())

    async def close(self) -> None:
        await self._client.aclose()


@dataclass(frozen=True)
class CachedAnswer:
    prediction: str
    confidence: float
    score: float


class AnswerCache:
    """The last good answer per entity, for the ``cache`` tier."""

    name: Final = "cache"

    def __init__(self, client: aioredis.Redis, timeout_s: float) -> None:
        self._client = client
        self.timeout_s = timeout_s

    @staticmethod
    def key(entity_id: str) -> str:
        return f"answer:{entity_id}"

    async def get(self, entity_id: str) -> CachedAnswer | None:
        raw: str | bytes | None = await _bounded(
            self.name, self.timeout_s, self._client.get(self.key(entity_id))
        )
        if raw is None:
            return None
        try:
            return CachedAnswer(**json.loads(raw))
        except (TypeError, ValueError) as exc:
            raise DependencyError(f"{self.name}: corrupt answer for {entity_id}: {exc!r}") from exc

    async def put(self, entity_id: str, answer: CachedAnswer) -> None:
        value = json.dumps(asdict(answer))
        await _bounded(
            self.name, self.timeout_s, self._client.set(self.key(entity_id), value, ex=ANSWER_TTL_S)
        )

    async def ping(self) -> None:
        await _bounded(self.name, self.timeout_s, self._client.ping())

    async def close(self) -> None:
        await self._client.aclose()


class PrimaryModelClient:
    """The primary model server's ``POST /predict``."""

    name: Final = "primary_model"

    def __init__(
        self, base_url: str, timeout_s: float, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.timeout_s = timeout_s
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_s * 2),  # per phase; the whole call is bounded by _bounded
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            transport=transport,
        )

    async def score(self, request: Mapping[str, Any], store: StoreFeatures) -> float:
        # An absent optional field is omitted, never sent as null (which the model server refuses).
        sent = {name: value for name, value in request.items() if value is not None}
        body = {**sent, **asdict(store)}
        response = await _bounded(self.name, self.timeout_s, self._client.post("/predict", json=body))
        if response.status_code != 200:
            raise DependencyError(f"{self.name}: HTTP {response.status_code}: {response.text[:200]}")
        try:
            return PrimaryResponse.model_validate_json(response.content).score
        except ValidationError as exc:
            raise DependencyError(f"{self.name}: unusable answer: {exc.errors(include_url=False)}") from exc

    async def ping(self) -> None:
        response = await _bounded(self.name, self.timeout_s, self._client.get("/health/ready"))
        if response.status_code != 200:
            raise DependencyError(f"{self.name}: /health/ready answered HTTP {response.status_code}")

    async def close(self) -> None:
        await self._client.aclose()
