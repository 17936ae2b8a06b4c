"""How the embedded reference stack is configured: the knobs a scenario's ``target`` may turn.

The broken-variant flags exist so that mlchaos can prove its verifiers catch real regressions: each one
disables a resilience mechanism the way a careless change would, and the shipped scenarios must then fail.
"""

from __future__ import annotations

import enum
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class StackFlag(enum.StrEnum):
    """Deliberate defects for proving that the verifiers catch them."""

    DISABLE_FALLBACK_MODEL = "disable_fallback_model"
    """The fallback model tier is skipped: a feature-store outage drops straight to rules."""
    BREAKER_NEVER_CLOSES = "breaker_never_closes"
    """Breakers open but never half-open again, so the primary tier never comes back after a fault."""
    NO_FEATURE_STORE_TIMEOUT = "no_feature_store_timeout"
    """Feature-store calls wait forever (well, 30 s): a blackholed store stalls every request."""
    STATIC_LABELLED_PRIMARY = "static_labelled_primary"
    """Answers from the static default are labelled ``primary``: the tier header lies."""
    NO_LOAD_SHEDDING = "no_load_shedding"
    """``max_in_flight`` is ignored: in a traffic spike every request queues for the full chain, so all get slow."""
    NO_INPUT_VALIDATION = "no_input_validation"
    """The body is parsed as lenient JSON and handed to the models unchecked (content type and size are still
    checked): a NaN, null or wrong-typed field reaches the models, which raise, and the request fails with 500."""
    NO_OOD_ROUTING = "no_ood_routing"
    """No review flag and no routing: out-of-distribution garbage is served by the primary model with whatever
    confidence it extrapolates to, and low-confidence answers are not flagged either."""
    NO_DRIFT_MONITOR = "no_drift_monitor"
    """Requests are never fed to the drift monitor (as if nobody wired it): the drift scores stay 0 and the
    alarm never fires, whatever the traffic looks like."""


class ReviewOptions(BaseModel):
    """When an answer is routed away from the learned models or flagged for review (docs/glossary.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ood_threshold: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        description="A request with ood_score >= this is out of distribution: the primary and fallback models "
        "are not asked, the answer is flagged review (reason 'ood') and its confidence capped. 0.5 is about "
        "0.7 standard deviations (Mahalanobis) beyond the farthest training request.",
    )
    ood_max_confidence: float = Field(
        0.6,
        ge=0.5,
        le=1.0,
        description="The highest confidence an out-of-distribution answer may claim: no tier has seen such "
        "input, so none can be sure (score moved towards 0.5, prediction kept).",
    )
    review_confidence: float = Field(
        0.55,
        ge=0.5,
        le=1.0,
        description="An answer whose confidence is below this is flagged review (reason 'low_confidence'); "
        "0.55 flags about 3 % of clean traffic answered by the primary tier.",
    )


class DriftOptions(BaseModel):
    """The drift monitor: per request feature, a Kolmogorov-Smirnov test of recent requests vs training data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int = Field(
        400,
        ge=10,
        description="Most recent valid requests compared with the training data, per feature. With 400, a "
        "shift of 30 % of the traffic (amount x 5, merchant_risk + 0.4, OOD garbage) alarms after about 150 "
        "to 350 requests of the shifted mix: within 10 s from ~35 requests/s.",
    )
    min_samples: int = Field(
        100, ge=10, description="A feature's score stays 0 until its window holds this many values."
    )
    threshold: float = Field(
        2.8,
        gt=0.0,
        description="Alarm while any feature's score (KS distance x sqrt(values in the window)) is above this. "
        "Without drift the score follows the Kolmogorov distribution at any window size, P(> 2.8) ~ 3e-7 per "
        "look; the highest score seen over 200,000 clean requests (sliding, every request a look) was 2.5.",
    )
    interval_s: float = Field(
        0.25, gt=0.0, description="Scores are recomputed at most this often (on a request or a scrape)."
    )

    @model_validator(mode="after")
    def _window_holds_min_samples(self) -> DriftOptions:
        # Otherwise the scores would stay 0 forever: a monitor that silently never alarms.
        if self.min_samples > self.window:
            raise ValueError(f"min_samples ({self.min_samples}) must not exceed window ({self.window})")
        return self


ShedMode = Literal["degrade", "reject"]
"""What the gateway does with a request beyond ``max_in_flight`` (see :class:`StackOptions`)."""
SHED_MODES: Final[tuple[ShedMode, ...]] = ("degrade", "reject")


class BreakerOptions(BaseModel):
    """Circuit breaker per remote dependency (closed → open → half-open → closed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    failure_threshold: int = Field(5, ge=1, description="Consecutive failures that open the breaker.")
    recovery_timeout_s: float = Field(
        2.0, gt=0, description="Seconds an open breaker waits before letting trial calls through (half-open)."
    )
    half_open_successes: int = Field(
        2, ge=1, description="Successful trial calls in half-open that close the breaker again."
    )


class StackOptions(BaseModel):
    """Settings of the embedded stack. Defaults are the healthy, well-configured reference service."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    flags: tuple[StackFlag, ...] = Field(
        (), description="Deliberate defects (broken variants); none by default."
    )
    breaker: BreakerOptions = BreakerOptions()
    feature_store_timeout_ms: int = Field(
        100, gt=0, description="Timeout of each feature-store (Redis) call."
    )
    primary_timeout_ms: int = Field(
        300, gt=0, description="Timeout of each call to the primary model server."
    )
    cache_timeout_ms: int = Field(50, gt=0, description="Timeout of each answer-cache (Redis) call.")
    restart_delay_s: float = Field(
        0.0,
        ge=0,
        description="Seconds the primary model server waits after a (re)start before serving: a known "
        "recovery time, used to check that measured MTTR matches the truth.",
    )
    max_in_flight: int = Field(
        24,
        ge=1,
        description="Requests the gateway works on at once through the fallback chain; beyond it, requests are "
        "shed (see shed_mode). Far above a healthy load (~6 concurrent users), so only a spike reaches it.",
    )
    shed_mode: ShedMode = Field(
        "degrade",
        description="What a request beyond max_in_flight gets, at once and without touching a remote "
        "dependency: 'degrade' = a 200 answer from the rules tier (static if the rules decline), marked "
        "shed; 'reject' = 429 overloaded with Retry-After.",
    )
    review: ReviewOptions = ReviewOptions()
    drift: DriftOptions = DriftOptions()
    seed: int = Field(7, description="Seed for the generated training data and the feature store's contents.")
