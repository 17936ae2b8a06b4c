"""The fallback chain: gold -> silver -> bronze -> default, each tier tried only if the one above cannot answer.

gold needs ``profiles`` (the customer's profile) and then ``scorer`` (the model), each behind its breaker and
its deadline; an unknown customer (404) is not a failure of the store, it just means silver. An
out-of-distribution request never reaches a learned model: bronze (or default) answers it, flagged, with its
confidence capped at 0.6 -- except under ``overconfident_ood``, where the models extrapolate with confidence.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from sklearn.pipeline import Pipeline

from riskd import models
from riskd.breaker import Breaker
from riskd.config import RiskdConfig
from riskd.upstream import UpstreamError, Upstreams

log = logging.getLogger(__name__)
T = TypeVar("T")

LOW_CONFIDENCE: Final = 0.55
OOD_CONFIDENCE_CAP: Final = 0.6


@dataclass(frozen=True)
class Answer:
    served_by: str
    p_block: float
    ood: bool = False
    load_shed: bool = False

    @property
    def confidence(self) -> float:
        return models.confidence(self.p_block)

    @property
    def review_reason(self) -> str | None:
        if self.ood:
            return "ood"
        return "low_confidence" if self.confidence < LOW_CONFIDENCE else None


class Chain:
    def __init__(
        self, config: RiskdConfig, silver: Pipeline, upstreams: Upstreams, breakers: dict[str, Breaker]
    ) -> None:
        self._silver = silver
        self._upstreams = upstreams
        self._breakers = breakers
        self._broken_fallback = config.has("broken_fallback")
        self._overconfident = config.has("overconfident_ood")
        self._silver_failures = 0

    async def answer(self, body: dict[str, Any], x: models.Vector, ood: bool) -> Answer:
        """``x``: :func:`models.request_matrix` of ``body``; ``ood``: what the OOD detector said about it."""
        if ood and not self._overconfident:
            return self.degraded(body, ood=True)
        p = await self._gold(body)
        if p is not None:
            if ood and models.confidence(p) < 0.95:  # overconfident_ood: extrapolation sold as certainty
                p = 0.97 if p > 0.5 else 0.03
            return Answer("gold", p)
        try:
            return Answer("silver", self._silver_p(x))
        except Exception:
            self._silver_failures += 1
            if self._silver_failures in (1, 10, 100, 1000):  # say so, without a traceback per request
                log.exception("silver tier failed (%d times so far)", self._silver_failures)
        return self.degraded(body)

    def shed(self, body: dict[str, Any], ood: bool) -> Answer:
        """An answer for a request that found no free slot: the rules, at once."""
        return self.degraded(body, ood=ood and not self._overconfident, load_shed=True)

    def degraded(self, body: dict[str, Any], *, ood: bool = False, load_shed: bool = False) -> Answer:
        p = models.bronze(body)
        if p is None:
            return Answer("default", models.DEFAULT_P_BLOCK, ood, load_shed)
        if ood:  # shrink towards 0.5, so that confidence == max(p, 1 - p) stays true for flagged answers
            p = 0.5 + max(0.5 - OOD_CONFIDENCE_CAP, min(OOD_CONFIDENCE_CAP - 0.5, p - 0.5))
        return Answer("bronze", p, ood, load_shed)

    def _silver_p(self, x: models.Vector) -> float:
        if self._broken_fallback:
            raise RuntimeError("silver model: coefficients not loaded (planted defect broken_fallback)")
        return models.p_block(self._silver, x)

    async def _gold(self, body: dict[str, Any]) -> float | None:
        answered, profile = await self._guarded(
            "profiles", lambda: self._upstreams.profile(body["customer_ref"])
        )
        if not answered or profile is None:
            return None
        answered, p = await self._guarded(
            "scorer", lambda: self._upstreams.infer(models.gold_vector(body, profile))
        )
        return p if answered else None

    async def _guarded(self, name: str, call: Callable[[], Awaitable[T]]) -> tuple[bool, T | None]:
        """(True, result) if the breaker let the call out and it answered; (False, None) otherwise."""
        breaker = self._breakers[name]
        if not breaker.acquire():
            return False, None
        try:
            result = await call()
        except UpstreamError as exc:
            breaker.failed()
            log.debug("%s", exc)
            return False, None
        except BaseException:  # cancelled, or a bug: the trial slot of a half-open breaker must not leak
            breaker.failed()
            raise
        breaker.succeeded()
        return True, result
