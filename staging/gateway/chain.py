"""The fallback chain: ask each tier in turn, best first, until one answers (*fallback chain*, docs/glossary.md).

    primary   store features (Redis via the feature_store proxy) + primary model server (via primary_model)
    fallback  local logistic regression on request features only; declines inputs far outside training data
    rules     hand-written score on request fields; declines without merchant_risk
    cache     last good (primary) answer for this entity (Redis via the cache proxy)
    static    a constant: the prior, "legit" with the base rate's confidence

Routing and review (see ``review.py``): an out-of-distribution request skips the learned tiers (primary,
fallback) and gets a confidence-capped answer flagged ``review``; a low-confidence answer is flagged too.

The static tier cannot fail, so the chain always answers. Each remote call goes through its dependency's
circuit breaker; an open breaker skips the tier at once. Tiers that could not answer are listed, with the
reason, in the answer's ``skipped`` so a degraded response explains itself. A request the gateway sheds (it is
at ``max_in_flight``) gets :meth:`FallbackChain.shed` instead: rules, else static, computed locally at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from mlchaos.staging.data import LEGIT
from mlchaos.staging.gateway.breaker import CircuitBreaker, CircuitOpenError
from mlchaos.staging.gateway.dependencies import (
    AnswerCache,
    CachedAnswer,
    DependencyError,
    FeatureStore,
    PrimaryModelClient,
)
from mlchaos.staging.gateway.review import ReviewPolicy
from mlchaos.staging.models import (
    FallbackModel,
    OodDetector,
    RuleDeclinedError,
    confidence_of,
    label_of,
    rules_score,
)
from mlchaos.staging.options import StackFlag
from mlchaos.staging.schemas import PredictRequest, ReviewReason, Skipped, Tier

log = logging.getLogger(__name__)

STATIC_SCORE: Final = 0.2
"""The static default's fraud probability: roughly the base rate of fraud in the training data."""
STALE_DISCOUNT: Final = 0.5
"""A cached answer was about an earlier transaction: keep only half of its certainty above a coin flip."""
FALLBACK_MAX_OOD: Final = 0.9
"""The fallback declines requests with a higher ``ood_score``: a linear model extrapolates with ever more
confidence, so on absurd inputs (a billion-dollar coffee) its answer would be confidently meaningless."""


class TierUnavailableError(Exception):
    """This tier cannot answer this request; the message says why."""


# What a tier may fail with in normal operation; anything else is a bug, logged with its traceback.
_EXPECTED: Final = (TierUnavailableError, CircuitOpenError, DependencyError, RuleDeclinedError)


@dataclass(frozen=True)
class Answer:
    prediction: str
    confidence: float
    score: float
    tier: Tier
    """The tier that really answered."""
    ood_score: float = 0.0
    skipped: tuple[Skipped, ...] = ()
    reported_tier: Tier | None = None
    """The tier the gateway claims (response, header, metrics); differs only under static_labelled_primary."""
    shed: bool = False
    """Answered by :meth:`FallbackChain.shed`, not the full chain: the gateway was at max_in_flight."""
    review_reason: ReviewReason | None = None
    """Why the answer should go to human review; None if it need not."""

    @property
    def label(self) -> Tier:
        return self.reported_tier or self.tier

    @property
    def review(self) -> bool:
        return self.review_reason is not None


@dataclass(frozen=True)
class Breakers:
    feature_store: CircuitBreaker
    primary_model: CircuitBreaker
    cache: CircuitBreaker

    def all(self) -> tuple[CircuitBreaker, ...]:
        return (self.feature_store, self.primary_model, self.cache)


@dataclass(frozen=True)
class _Query:
    """One request as the tiers see it, with what is computed once for all of them."""

    request: PredictRequest
    fields: Mapping[str, Any]
    ood_score: float


def _scored(score: float, tier: Tier) -> Answer:
    return Answer(label_of(score), round(confidence_of(score), 6), round(score, 6), tier)


class FallbackChain:
    def __init__(
        self,
        *,
        feature_store: FeatureStore,
        primary: PrimaryModelClient,
        cache: AnswerCache,
        fallback: FallbackModel,
        ood: OodDetector,
        breakers: Breakers,
        review: ReviewPolicy | None = None,
        flags: frozenset[StackFlag] = frozenset(),
    ) -> None:
        self._feature_store = feature_store
        self._primary = primary
        self._cache = cache
        self._fallback = fallback
        self._ood = ood
        self._breakers = breakers
        self._review = review or ReviewPolicy()
        self._flags = flags
        self._tiers: tuple[tuple[Tier, Callable[[_Query], Awaitable[Answer]]], ...] = (
            (Tier.PRIMARY, self._primary_tier),
            (Tier.FALLBACK, self._fallback_tier),
            (Tier.RULES, self._rules_tier),
            (Tier.CACHE, self._cache_tier),
        )

    async def answer(self, request: PredictRequest) -> Answer:
        """The best answer any tier may give right now, flagged for review where needed.

        Never raises for a validated request (short of cancellation). An unvalidated one (the
        ``no_input_validation`` broken variant) may raise :class:`~mlchaos.staging.models.FeatureError` or
        worse from the feature computation, before any tier is asked.
        """
        fields = request.model_dump(warnings=False)
        query = _Query(request, fields, self._ood.score(fields))
        skipped: list[Skipped] = []
        for tier, attempt in self._tiers:
            refusal = self._review.skip_reason(tier, query.ood_score)
            if refusal is not None:
                skipped.append(Skipped(tier=tier, reason=refusal))
                continue
            try:
                answer = await attempt(query)
            except _EXPECTED as exc:
                skipped.append(Skipped(tier=tier, reason=str(exc)))
            except Exception as exc:
                log.exception("tier %s failed unexpectedly", tier)
                skipped.append(Skipped(tier=tier, reason=f"unexpected {type(exc).__name__}: {exc}"))
            else:
                return self._review.review(replace(answer, ood_score=query.ood_score, skipped=tuple(skipped)))
        return self._review.review(replace(self._static(), ood_score=query.ood_score, skipped=tuple(skipped)))

    def shed(self, request: PredictRequest, reason: str) -> Answer:
        """The answer for a request the gateway sheds: the rules tier, else static, and nothing else.

        Synchronous on purpose: no remote call, no await, so it answers at once and adds no load to the
        dependencies the limit protects. The fallback model is cheap too, but the rules are cheaper, and under
        overload every millisecond of the one event loop counts. The tiers not tried are listed in ``skipped``
        with ``reason``, so the answer explains itself like any degraded one.
        """
        fields = request.model_dump(warnings=False)
        ood_score = self._ood.score(fields)
        skipped = [Skipped(tier=Tier.PRIMARY, reason=reason), Skipped(tier=Tier.FALLBACK, reason=reason)]
        try:
            answer = _scored(rules_score(fields), Tier.RULES)
        except RuleDeclinedError as exc:
            skipped += [Skipped(tier=Tier.RULES, reason=str(exc)), Skipped(tier=Tier.CACHE, reason=reason)]
            answer = self._static()
        return self._review.review(replace(answer, ood_score=ood_score, skipped=tuple(skipped), shed=True))

    async def remember(self, entity_id: str, answer: Answer) -> None:
        """Keep a primary answer for the cache tier. Best effort: runs after the response went out, and a
        failure only costs the cache tier one entry (the cache breaker still counts it)."""
        if answer.tier is not Tier.PRIMARY:
            return
        cached = CachedAnswer(answer.prediction, answer.confidence, answer.score)
        try:
            await self._breakers.cache.call(lambda: self._cache.put(entity_id, cached))
        except _EXPECTED as exc:
            log.debug("not cached: %s", exc)

    async def _primary_tier(self, query: _Query) -> Answer:
        entity = query.request.entity_id
        features = await self._breakers.feature_store.call(lambda: self._feature_store.get(entity))
        if features is None:
            raise TierUnavailableError(f"feature store has no features for entity {entity!r}")
        score = await self._breakers.primary_model.call(lambda: self._primary.score(query.fields, features))
        return _scored(score, Tier.PRIMARY)

    async def _fallback_tier(self, query: _Query) -> Answer:
        if StackFlag.DISABLE_FALLBACK_MODEL in self._flags:
            raise TierUnavailableError(f"fallback model disabled ({StackFlag.DISABLE_FALLBACK_MODEL})")
        if query.ood_score > FALLBACK_MAX_OOD:
            raise TierUnavailableError(f"input too far out of distribution (ood_score {query.ood_score})")
        # ~1 ms of CPU: cheaper inline than a hop to a worker thread.
        return _scored(self._fallback.score(query.fields), Tier.FALLBACK)

    async def _rules_tier(self, query: _Query) -> Answer:
        return _scored(rules_score(query.fields), Tier.RULES)

    async def _cache_tier(self, query: _Query) -> Answer:
        entity = query.request.entity_id
        cached = await self._breakers.cache.call(lambda: self._cache.get(entity))
        if cached is None:
            raise TierUnavailableError(f"no cached answer for entity {entity!r}")
        confidence = 0.5 + (cached.confidence - 0.5) * STALE_DISCOUNT
        return Answer(cached.prediction, round(confidence, 6), cached.score, Tier.CACHE)

    def _static(self) -> Answer:
        # The broken variant: a careless default that claims the answer came from the primary model. Only the
        # label lies; the true tier still decides what gets cached, so the flag does no more than it says.
        claimed = Tier.PRIMARY if StackFlag.STATIC_LABELLED_PRIMARY in self._flags else None
        return Answer(LEGIT, round(1.0 - STATIC_SCORE, 6), STATIC_SCORE, Tier.STATIC, reported_tier=claimed)
