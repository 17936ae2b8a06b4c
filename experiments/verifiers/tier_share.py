"""``tier_share``: the share of answers a set of tiers served in a phase, against a lower and/or upper bound.

Share = (2xx answers in ``phase`` whose tier is in ``tiers``) / (all 2xx answers in ``phase``). Only answered
requests count: a 5xx, a timeout or a 4xx carries no tier, and availability is measured elsewhere — this is the
*quality of service* view, e.g. seed 001's SLA "95 % of responses from tier 1 or 2" is
``{type: tier_share, tiers: [primary, fallback], min: 0.95}``.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from mlchaos.experiments.records import Tier
from mlchaos.experiments.verifiers.base import Recording, Verdict, VerifierSpec
from mlchaos.experiments.verifiers.phases import PhaseOrRun, answered, requests_in, tier_labels


class TierShare(VerifierSpec):
    type: Literal["tier_share"]
    tiers: tuple[Tier, ...] = Field(min_length=1, description="The tiers whose combined share is bounded.")
    phase: PhaseOrRun = "run"
    min: float | None = Field(None, ge=0, le=1, description="Least share of answers from these tiers.")
    max: float | None = Field(None, ge=0, le=1, description="Largest share of answers from these tiers.")

    @model_validator(mode="after")
    def _has_a_bound(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError("give 'min' and/or 'max' (a share between 0 and 1)")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min}) is above 'max' ({self.max})")
        return self


def verify(recording: Recording, spec: TierShare) -> Verdict:
    tiers = "/".join(t.value for t in spec.tiers)
    name = f"tier_share ({tiers}, {spec.phase})"
    bounds = []
    if spec.min is not None:
        bounds.append(f"≥ {spec.min:.1%}")
    if spec.max is not None:
        bounds.append(f"≤ {spec.max:.1%}")
    target = " and ".join(bounds)
    requests = requests_in(recording, spec.phase)
    answers = requests[answered(requests)]
    if answers.empty:
        return Verdict(
            "tier_share",
            name,
            False,
            None,
            target,
            "%",
            f"no answered (2xx) requests in {spec.phase} ({len(requests)} requests in all)",
        )
    shares = tier_labels(answers).value_counts(normalize=True)
    share = float(shares.reindex([t.value for t in spec.tiers], fill_value=0.0).sum())
    passed = (spec.min is None or share >= spec.min) and (spec.max is None or share <= spec.max)
    seen = ", ".join(f"{tier} {value:.1%}" for tier, value in shares.items())
    explanation = (
        f"{share:.2%} of {len(answers)} answered (2xx) requests in {spec.phase} came from {tiers}"
        f" — {'within' if passed else 'outside'} {target} (seen: {seen}; "
        f"{len(requests) - len(answers)} unanswered requests not counted)"
    )
    details: dict[str, float | str | None] = {
        "answered": float(len(answers)),
        "unanswered": float(len(requests) - len(answers)),
    }
    details.update({f"share.{tier}": float(value) for tier, value in shares.items()})
    return Verdict("tier_share", name, passed, share * 100, target, "%", explanation, details)
