"""How the embedded reference stack is configured: the knobs a scenario's ``target`` may turn.

The broken-variant flags exist so that mlchaos can prove its verifiers catch real regressions: each one
disables a resilience mechanism the way a careless change would, and the shipped scenarios must then fail.
"""

from __future__ import annotations

import enum
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field


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
    seed: int = Field(7, description="Seed for the generated training data and the feature store's contents.")
