"""``fallback_engaged``: while a fault is applied, the allowed tiers serve — and start serving promptly.

Measured: the share of requests started between ``injected + within`` and the revert that were answered (2xx) by
one of ``tiers`` (names on the target's ladder). ``within`` is the grace period a breaker needs to notice the
fault. Also reported: how long after the injection the first allowed-tier answer came (MTTD as the traffic sees
it). Answers from a tier not on the ladder are counted and named, and are not from an allowed tier.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from mlchaos.experiments.durations import Seconds
from mlchaos.experiments.service_declaration import TierName
from mlchaos.experiments.verifiers import advice, needs
from mlchaos.experiments.verifiers.advice import Way, WaysOfFailing
from mlchaos.experiments.verifiers.base import Recording, Verdict, Verifier, VerifierSpec
from mlchaos.experiments.verifiers.frames import selected
from mlchaos.experiments.verifiers.phases import answered, fault_end, fault_judged, fault_not_applied
from mlchaos.experiments.verifiers.tiers import from_tiers, labels, unknown_tiers, with_unknown


class Failing(WaysOfFailing):
    FAULT_NOT_APPLIED = advice.FAULT_NOT_APPLIED
    UNMEASURED = Way(
        "no requests during the fault, after the grace period",
        "the measurement: no request started between {within}s after '{fault}' was injected and its revert — "
        "the fault window is shorter than the grace period, or the load sent nothing then",
    )
    NEVER_ANSWERED = Way(
        "the allowed tiers never answered",
        "the fallback path itself is broken: {tiers} never answered while '{fault}' was applied (seen: {seen}) — a "
        "classic silent failure, unnoticed for months because nothing calls it until the day it is needed. Call "
        "{tiers} directly with the failed path switched off, and check its own dependencies and configuration",
    )
    ENGAGED_LATE = Way(
        "the allowed tiers took over only after the grace period",
        "{tiers} took over only {first}s after the injection (grace {within}s): the switch waits for a timeout or "
        "a breaker's failure threshold that is too long — look at the timeout on the failing dependency and the "
        "failures its breaker needs before opening",
    )
    SHARE_TOO_LOW = Way(
        "the allowed tiers answered, but too rarely",
        "{tiers} answered only {share}% of requests during '{fault}' (seen: {seen}): requests still went to the "
        "failing path, or fell past {tiers} — look at whether the failing dependency's breaker stays open, and at "
        "the errors {tiers} itself returned",
    )


class FallbackEngaged(VerifierSpec):
    type: Literal["fallback_engaged"]
    fault: str = Field(description="Id of the fault in the timeline.")
    tiers: tuple[TierName, ...] = Field(min_length=1, description="Tiers allowed to serve during the fault.")
    within: Seconds = Field(2.0, description="Grace period after the injection before the share is counted.")
    min_share: float = Field(0.95, ge=0, le=1)

    tier_fields: ClassVar[tuple[str, ...]] = ("tiers",)


def verify(recording: Recording, spec: FallbackEngaged) -> Verdict:
    allowed = "/".join(spec.tiers)
    name = f"fallback_engaged ({spec.fault} → {allowed})"
    target = f"≥ {spec.min_share:.0%} within {spec.within:g}s"
    fault = recording.fault(spec.fault)
    if fault is None:
        return fault_not_applied(spec.type, name, target, "%", spec.fault)
    end = fault_end(recording, fault)
    during = recording.requests_between(fault.injected_at + spec.within, end)
    if during.empty:
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="%",
            explanation=f"no requests between {spec.within:g}s after the injection and the revert",
            advice=Failing.UNMEASURED.advise(within=spec.within, fault=spec.fault),
            judged=fault_judged(recording, fault),
        )
    served = from_tiers(during, spec.tiers, recording.tiers) & answered(during)
    share = float(served.mean())
    tiers_seen = labels(during).value_counts(normalize=True)
    seen = ", ".join(f"{tier} {share_:.0%}" for tier, share_ in tiers_seen.items())
    after = recording.requests_between(fault.injected_at, end)
    engaged = from_tiers(after, spec.tiers, recording.tiers) & answered(after)
    first = selected(after, engaged, ["start"])["start"]
    detect_s = float(first.min() - fault.injected_at) if not first.empty else None
    passed = share >= spec.min_share
    explanation = (
        f"{share:.1%} of {len(during)} requests during '{spec.fault}' served by {allowed} (seen: {seen})"
    )
    if detect_s is not None:
        explanation += f"; first {allowed} answer {detect_s:.2f}s after injection"
    unknown = unknown_tiers(selected(during, answered(during), ["tier"]), recording.tiers)
    details: dict[str, float | str | None] = {
        "requests": float(len(during)),
        "first_allowed_after_s": detect_s,
        **unknown.details(),
    }
    if detect_s is None:
        way = Failing.NEVER_ANSWERED
    else:
        way = Failing.ENGAGED_LATE if detect_s > spec.within else Failing.SHARE_TOO_LOW
    hint = way.advise(
        tiers=spec.tiers, fault=spec.fault, seen=seen, first=detect_s, within=spec.within, share=share * 100
    )
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=passed,
        measured=share * 100,
        target=target,
        unit="%",
        explanation=with_unknown(explanation, unknown),
        details=details,
        advice=None if passed else hint,
        judged=fault_judged(recording, fault),
    )


VERIFIER = Verifier(FallbackEngaged, verify, needs=needs.tiers, ways=Failing)
