"""``fallback_order``: while a fault is applied, answers come from the best tier the fault left healthy.

The fault makes the tiers in ``unavailable`` unusable (default: ``primary``). The *expected* tier is the best
(primary > fallback > rules > cache > static) not among them. Counted: 2xx answers to requests started between
``injected + within`` (the grace a breaker needs) and the revert.

- measured: the share of those answers that came from a tier *worse* than the expected one — they skipped a
  healthy, better tier (e.g. ``static`` while the fallback model is fine); pass when ≤ ``max_skip_share``;
- also counted: answers *from* an unavailable tier. They should be impossible (a ``primary`` answer while the
  feature store it needs is down is a mislabelled answer), so their share must be ≤ ``max_impossible_share``
  (default 0: any one of them fails the verifier).
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from mlchaos.experiments.durations import Seconds
from mlchaos.experiments.records import Tier
from mlchaos.experiments.verifiers.base import Recording, Verdict, VerifierSpec
from mlchaos.experiments.verifiers.phases import (
    TIER_RANK,
    answered,
    fault_end,
    fault_not_applied,
    tier_labels,
)


class FallbackOrder(VerifierSpec):
    type: Literal["fallback_order"]
    fault: str = Field(description="Id of the fault in the timeline.")
    unavailable: tuple[Tier, ...] = Field((Tier.PRIMARY,), description="Tiers the fault makes unavailable.")
    within: Seconds = Field(2.0, description="Grace period after the injection before answers are counted.")
    max_skip_share: float = Field(
        0.01, ge=0, le=1, description="Largest share of answers below the expected tier."
    )
    max_impossible_share: float = Field(0.0, ge=0, le=1, description="Largest share from unavailable tiers.")

    @model_validator(mode="after")
    def _leaves_a_tier(self) -> Self:
        if set(self.unavailable) >= set(Tier):
            raise ValueError("'unavailable' names every tier; at least one must remain to answer")
        return self

    @property
    def expected(self) -> Tier:
        return next(t for t in Tier if t not in self.unavailable)


def verify(recording: Recording, spec: FallbackOrder) -> Verdict:
    expected = spec.expected
    name = f"fallback_order ({spec.fault} → {expected.value})"
    target = f"≤ {spec.max_skip_share:.1%} below {expected.value}"
    fault = recording.fault(spec.fault)
    if fault is None:
        return fault_not_applied("fallback_order", name, target, "%", spec.fault)
    during = recording.requests_between(fault.injected_at + spec.within, fault_end(recording, fault))
    answers = during[answered(during)]
    if answers.empty:
        return Verdict(
            "fallback_order",
            name,
            False,
            None,
            target,
            "%",
            f"no answered (2xx) requests from {spec.within:g}s after the injection to the revert "
            f"({len(during)} requests in all)",
        )
    tiers = tier_labels(answers)
    # Answers without a known tier rank worst: nothing says a better tier answered.
    ranks = tiers.map(TIER_RANK).fillna(len(TIER_RANK)).to_numpy()
    skipped = int((ranks > TIER_RANK[expected.value]).sum())
    impossible = int(tiers.isin([t.value for t in spec.unavailable]).sum())
    skip_share, impossible_share = skipped / len(answers), impossible / len(answers)
    failed = []
    if skip_share > spec.max_skip_share:
        failed.append(f"{skip_share:.2%} skipped {expected.value} (> {spec.max_skip_share:.1%})")
    if impossible_share > spec.max_impossible_share:
        unavailable = "/".join(t.value for t in spec.unavailable)
        failed.append(f"{impossible} answers claim an unavailable tier ({unavailable})")
    seen = ", ".join(f"{tier} {share:.1%}" for tier, share in tiers.value_counts(normalize=True).items())
    explanation = (
        f"{skipped} of {len(answers)} answers during '{spec.fault}' ({skip_share:.2%}) came from a tier worse "
        f"than {expected.value}; {impossible} from an unavailable tier (seen: {seen})"
    )
    if failed:
        explanation += " — " + "; ".join(failed)
    details: dict[str, float | str | None] = {
        "answered": float(len(answers)),
        "expected_tier": expected.value,
        "skipped": float(skipped),
        "impossible": float(impossible),
        "impossible_share": impossible_share,
    }
    return Verdict("fallback_order", name, not failed, skip_share * 100, target, "%", explanation, details)
