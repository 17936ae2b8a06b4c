"""Confidence-based routing (docs/glossary.md): which answers the learned models may give, and which go to review.

Two rules, applied to every answer of ``POST /predict`` (shed ones included):

- **Out of distribution** (``ood_score >= ood_threshold``): the learned models (primary, fallback) are not
  asked, since they extrapolate with confidence they never earned out there; the rules, the cache or the static
  default answer instead, and that answer's confidence is capped at ``ood_max_confidence`` (the score moves
  towards 0.5, the prediction stays). The answer is flagged ``review`` with reason ``ood``.
- **Low confidence**: an answer whose confidence is below ``review_confidence`` is flagged ``review`` with
  reason ``low_confidence`` (it is still served: a borderline score is an answer, just not one to act on alone).

The broken variant ``no_ood_routing`` turns both off: no routing, no flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final

from mlchaos.staging.data import FRAUD
from mlchaos.staging.options import ReviewOptions
from mlchaos.staging.schemas import ReviewReason, Tier

if TYPE_CHECKING:
    from mlchaos.staging.gateway.chain import Answer

LEARNED_TIERS: Final = frozenset({Tier.PRIMARY, Tier.FALLBACK})
"""The tiers an out-of-distribution request is kept away from."""


@dataclass(frozen=True)
class ReviewPolicy:
    options: ReviewOptions = field(default_factory=ReviewOptions)
    enabled: bool = True
    """False under the ``no_ood_routing`` broken variant."""

    def is_ood(self, ood_score: float) -> bool:
        return self.enabled and ood_score >= self.options.ood_threshold

    def skip_reason(self, tier: Tier, ood_score: float) -> str | None:
        """Why ``tier`` must not answer a request with this ``ood_score``, or None if it may."""
        if tier in LEARNED_TIERS and self.is_ood(ood_score):
            return (
                f"out of distribution (ood_score {ood_score} >= ood_threshold {self.options.ood_threshold}): "
                "learned models are not trusted there"
            )
        return None

    def review(self, answer: Answer) -> Answer:
        """The answer with its review flag set, and its confidence capped if the input is out of distribution."""
        if not self.enabled:
            return answer
        if self.is_ood(answer.ood_score):
            return replace(_capped(answer, self.options.ood_max_confidence), review_reason=ReviewReason.OOD)
        if answer.confidence < self.options.review_confidence:
            return replace(answer, review_reason=ReviewReason.LOW_CONFIDENCE)
        return answer


def _capped(answer: Answer, max_confidence: float) -> Answer:
    if answer.confidence <= max_confidence:
        return answer
    score = max_confidence if answer.prediction == FRAUD else 1.0 - max_confidence
    return replace(answer, confidence=round(max_confidence, 6), score=round(score, 6))
