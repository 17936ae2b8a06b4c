"""The wire formats of the reference stack, validated with pydantic.

Validation is strict on purpose: a service that guesses what ``"hour": "5"`` or ``"amount": NaN`` meant hides
client bugs, and a chaos harness wants bad input to be a clean, visible 4xx, never a 5xx or a silent guess.
For the same reason an optional field is either present with a real value or absent: ``"hour": null`` is
refused, because a null is far more often a serialisation bug upstream than a deliberate "unknown".
"""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlchaos.staging.data import FRAUD, LEGIT


class Tier(enum.StrEnum):
    """Which level of the fallback chain answered, best first."""

    PRIMARY = "primary"
    FALLBACK = "fallback"
    RULES = "rules"
    CACHE = "cache"
    STATIC = "static"


_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)

EntityId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class PredictRequest(BaseModel):
    """``POST /predict`` body of the gateway: one transaction, as the client knows it."""

    model_config = _STRICT

    entity_id: EntityId = Field(
        description="Card holder, e.g. u0042; unknown ids are served without store features."
    )
    amount: float = Field(ge=0.0, le=1e9, description="Transaction amount.")
    hour: int | None = Field(None, ge=0, le=23, description="Local hour of day; optional.")
    merchant_risk: Probability | None = Field(None, description="Merchant risk score 0..1; optional.")
    is_foreign: bool | None = Field(None, description="Card used abroad; optional.")

    @field_validator("hour", "merchant_risk", "is_foreign", mode="before")
    @classmethod
    def _absent_not_null(cls, value: object) -> object:
        # Runs only on values that were sent: an omitted field keeps its None default without coming here.
        if value is None:
            raise ValueError("null is not accepted; omit the field if the value is unknown")
        return value


class PrimaryRequest(PredictRequest):
    """``POST /predict`` body of the primary model server: the transaction plus the entity's features."""

    txn_count_7d: int = Field(ge=0)
    avg_amount_30d: float = Field(ge=0.0)
    account_age_days: int = Field(ge=0)
    chargeback_rate: Probability


class PrimaryResponse(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    score: Probability = Field(description="Probability of fraud.")
    model: str = "primary"


class ReviewReason(enum.StrEnum):
    """Why an answer is flagged for human review / low-confidence handling."""

    OOD = "ood"
    """The input lies outside the training data (``ood_score >= ood_threshold``)."""
    LOW_CONFIDENCE = "low_confidence"
    """The answering tier's confidence is below ``review_confidence``."""


class Skipped(BaseModel):
    """A tier that could not answer, and why (so a degraded answer explains itself)."""

    tier: Tier
    reason: str


class PredictResponse(BaseModel):
    """Every 200 answer of the gateway's ``POST /predict``; the tier is also in the ``X-Tier`` header."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    prediction: str = Field(pattern=f"^({FRAUD}|{LEGIT})$")
    confidence: Probability = Field(
        description="Probability of the predicted class (0.5..1 for a real model)."
    )
    score: Probability = Field(description="Probability of fraud according to the answering tier.")
    tier: Tier
    ood_score: Probability = Field(
        description="How far outside the training data the request lies (0 = inside)."
    )
    request_id: str
    skipped: list[Skipped] = Field(default_factory=list, description="Better tiers that could not answer.")
    shed: bool = Field(
        False,
        description="True if the gateway was at max_in_flight and answered from the cheapest tier at once "
        "instead of the full chain (also the X-Shed: 1 header).",
    )
    review: bool = Field(
        False,
        description="True if the answer should go to human review / low-confidence handling (also the "
        "X-Review: 1 header); review_reason says why.",
    )
    review_reason: ReviewReason | None = Field(
        None, description="'ood' or 'low_confidence'; null if not flagged."
    )
