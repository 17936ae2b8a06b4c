"""``tier_share``: the share of answers a set of tiers served in a phase, against a lower and/or upper bound.

Share = (2xx answers in ``phase`` whose tier is in ``tiers``) / (all 2xx answers in ``phase``). Only answered
requests count: a 5xx, a timeout or a 4xx carries no tier, and availability is measured elsewhere — this is the
*quality of service* view, e.g. the quality SLO "95 % of responses from the two best tiers" is
``{type: tier_share, tiers: [primary, fallback], min: 0.95}`` (names from the target's ladder).

An answer whose tier is not on the ladder could have come from any tier, so it never helps the verdict: it counts
as not from ``tiers`` against ``min``, and as possibly from them against ``max``; both shares are reported, and
the unknown tiers named.
"""

from __future__ import annotations

from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator

from mlchaos.experiments.service_declaration import TierName
from mlchaos.experiments.verifiers import needs
from mlchaos.experiments.verifiers.advice import Way, WaysOfFailing
from mlchaos.experiments.verifiers.base import Recording, Verdict, Verifier, VerifierSpec
from mlchaos.experiments.verifiers.frames import selected
from mlchaos.experiments.verifiers.phases import PhaseOrRun, answered, phase_judged, requests_in
from mlchaos.experiments.verifiers.tiers import from_tiers, labels, unknown_tiers, with_unknown


class Failing(WaysOfFailing):
    UNMEASURED = Way(
        "no 2xx answer in the phase",
        "the measurement: no 2xx answer in {phase} to count tiers on — if requests were sent, the availability "
        "verdicts say why none was answered; if none were, the run never reached {phase} (see the journal)",
    )
    BELOW_MIN = Way(
        "the tiers served less than their minimum",
        "{tiers} served only {share}% of answers (seen: {seen}): the answers came from lower tiers — look at why "
        "{tiers} could not answer in {phase} (their dependencies, their breakers' state on the timeline)",
    )
    ABOVE_MAX = Way(
        "the tiers served more than their maximum",
        "{tiers} served up to {share}% of answers (seen: {seen}): the degraded path was not taken, or answers are "
        "labelled with a tier that did not make them — look at where the service sets the tier it reports",
    )


class TierShare(VerifierSpec):
    type: Literal["tier_share"]
    tiers: tuple[TierName, ...] = Field(
        min_length=1, description="The tiers whose combined share is bounded."
    )
    phase: PhaseOrRun = "run"
    min: float | None = Field(None, ge=0, le=1, description="Least share of answers from these tiers.")
    max: float | None = Field(None, ge=0, le=1, description="Largest share of answers from these tiers.")

    tier_fields: ClassVar[tuple[str, ...]] = ("tiers",)

    @model_validator(mode="after")
    def _has_a_bound(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError("give 'min' and/or 'max' (a share between 0 and 1)")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min}) is above 'max' ({self.max})")
        return self


def verify(recording: Recording, spec: TierShare) -> Verdict:
    tiers = "/".join(spec.tiers)
    name = f"tier_share ({tiers}, {spec.phase})"
    bounds = []
    if spec.min is not None:
        bounds.append(f"≥ {spec.min:.1%}")
    if spec.max is not None:
        bounds.append(f"≤ {spec.max:.1%}")
    target = " and ".join(bounds)
    requests = requests_in(recording, spec.phase)
    answers = selected(requests, answered(requests), ["tier"])  # all it reads: a long run is not copied whole
    if answers.empty:
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="%",
            explanation=f"no answered (2xx) requests in {spec.phase} ({len(requests)} requests in all)",
            advice=Failing.UNMEASURED.advise(phase=spec.phase),
            judged=phase_judged(recording, spec.phase),
        )
    shares = labels(answers).value_counts(normalize=True)
    share = float(from_tiers(answers, spec.tiers, recording.tiers).mean())
    unknown = unknown_tiers(answers, recording.tiers)
    at_most = share + unknown.total / len(answers)  # if every unknown answer came from these tiers
    passed = (spec.min is None or share >= spec.min) and (spec.max is None or at_most <= spec.max)
    seen = ", ".join(f"{tier} {value:.1%}" for tier, value in shares.items())
    explanation = (
        f"{share:.2%} of {len(answers)} answered (2xx) requests in {spec.phase} came from {tiers}"
        + (f" (up to {at_most:.2%} with the unknown tiers)" if unknown.counts else "")
        + f" — {'within' if passed else 'outside'} {target} (seen: {seen}; "
        f"{len(requests) - len(answers)} unanswered requests not counted)"
    )
    details: dict[str, float | str | None] = {
        "answered": float(len(answers)),
        "unanswered": float(len(requests) - len(answers)),
        **unknown.details(),
    }
    details.update({f"share.{tier}": float(value) for tier, value in shares.items()})
    explanation = with_unknown(explanation, unknown)
    low = spec.min is not None and share < spec.min
    way = Failing.BELOW_MIN if low else Failing.ABOVE_MAX
    hint = way.advise(tiers=spec.tiers, share=(share if low else at_most) * 100, seen=seen, phase=spec.phase)
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=passed,
        measured=share * 100,
        target=target,
        unit="%",
        explanation=explanation,
        details=details,
        advice=None if passed else hint,
        judged=phase_judged(recording, spec.phase),
    )


VERIFIER = Verifier(TierShare, verify, needs=needs.tiers, ways=Failing)
