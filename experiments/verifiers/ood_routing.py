"""``ood_routing``: inputs far outside the training data are not served as if the model knew them.

Measured over the requests tagged ``ood:<kind>`` (only ``kinds`` if given). Out-of-distribution requests are built
to fit the service's request schema, so that they reach its model; one is *handled safely* when the target answered
it (2xx)

- flagged for review, or
- from a tier below the best of its ladder (routed away from the main model), or
- with a confidence ≤ ``max_confidence`` (only when the scenario sets one: a near coin-flip answer does not pretend
  to know).

A 4xx is *rejected as invalid*, not handled: the request never reached a model, so it says nothing of routing (it
did not fit the service's schema). An unflagged answer from the best tier above that confidence is *served
unsafely*; 5xx and no response are not safe either. Measured: the safe share of all the OOD requests; the verdict
holds when it is ≥ ``min_share``. When more than ``1 - min_share`` of them were rejected with a 4xx, the
explanation says first that the OOD requests do not fit the service (declare ``request.features`` in the target —
types, ranges, choices — and check its input contract): such a run proves nothing about routing, and fails. Also
reported: the median confidence of the unflagged 2xx answers — the number that shows a model confidently answering
garbage. The table has one row per OOD kind.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import Field

from mlchaos.experiments.verifiers import needs
from mlchaos.experiments.verifiers.advice import Way, WaysOfFailing
from mlchaos.experiments.verifiers.base import Recording, Verdict, Verifier, VerifierSpec
from mlchaos.experiments.verifiers.needs import Observed, Support, Supported
from mlchaos.experiments.verifiers.phases import answered
from mlchaos.experiments.verifiers.tagged import (
    client_error,
    counts_table,
    degraded,
    flagged,
    hung,
    names,
    server_error,
    tagged,
)


class Failing(WaysOfFailing):
    UNMEASURED = Way(
        "no out-of-distribution request was sent",
        "the measurement: no out-of-distribution request ({kinds}) was sent — check the distribution-shift "
        "fault's kinds and window in the scenario",
    )
    DO_NOT_FIT = Way(
        "the OOD requests were refused as invalid",
        "the measurement, not the routing: {rejected}% of the OOD requests were refused with a 4xx, so they never "
        "reached a model — declare request.features in the target (types, ranges, choices) so they fit the "
        "service's schema, and check its input contract",
    )
    SERVED_UNSAFELY = Way(
        "OOD requests were served as if the model knew them",
        "{unsafe} out-of-distribution requests ({kinds}) were answered unflagged from the best tier (median "
        "confidence {confidence}): nothing in front of the model notices inputs far from its training data — add "
        "an out-of-distribution check that flags them or routes them to a lower tier",
    )
    FAILED = Way(
        "OOD requests failed",
        "{failed} out-of-distribution requests got a 5xx or no response: the model or its preprocessing crashes "
        "on values far outside its training range — guard it, and route such inputs away",
    )


class OodRouting(VerifierSpec):
    type: Literal["ood_routing"]
    kinds: tuple[str, ...] = Field(
        (), description="Only these OOD kinds (extreme, impossible, garbage); empty = all."
    )
    min_share: float = Field(0.95, ge=0, le=1, description="Least share of OOD requests handled safely.")
    max_confidence: float | None = Field(
        None, ge=0, le=1, description="An answer at or below this confidence counts as safe; unset = never."
    )


def verify(recording: Recording, spec: OodRouting) -> Verdict:
    name = f"ood_routing ({', '.join(spec.kinds) or 'all'})"
    target = f"≥ {spec.min_share:.0%} handled safely"
    requests = tagged(recording.requests, "ood", spec.kinds)
    if requests.empty:
        wanted = ", ".join(spec.kinds) or "any kind"
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="%",
            explanation=f"no out-of-distribution request ({wanted}): nothing was measured",
            advice=Failing.UNMEASURED.advise(kinds=wanted),
        )
    ok = answered(requests)
    confidence = pd.to_numeric(requests["confidence"], errors="coerce")
    rejected, is_flagged = client_error(requests), flagged(requests)
    routed = degraded(requests, recording.tiers)
    low_confidence = (
        ok & (confidence <= spec.max_confidence)
        if spec.max_confidence is not None
        else pd.Series(False, index=requests.index)
    )
    safe = is_flagged | routed | low_confidence
    unflagged = ok & ~is_flagged
    failed = server_error(requests) | hung(requests)
    safe_share = float(safe.mean())
    rejected_share = float(rejected.mean())
    kinds = names(requests).rename("kind")
    median_unflagged = confidence[unflagged].median() if unflagged.any() else None
    per_kind_median = confidence[unflagged].groupby(kinds[unflagged]).median()
    table = counts_table(
        "Out-of-distribution requests by kind",
        kinds,
        {
            "rejected 4xx (invalid)": rejected,
            "flagged": is_flagged,
            "lower tier": routed & ~is_flagged,
            "low confidence": low_confidence & ~is_flagged & ~routed,
            "served unsafely": ok & ~safe,
            "5xx or no answer": failed,
        },
        {"median confidence (unflagged)": per_kind_median},
    )
    passed = safe_share >= spec.min_share
    confidently = (
        f"; unflagged answers: {int(unflagged.sum())}, median confidence {median_unflagged:.2f}"
        if median_unflagged is not None
        else "; no answer went unflagged"
    )
    explanation = (
        f"{safe_share:.1%} of {len(requests)} out-of-distribution requests handled safely "
        f"({int(is_flagged.sum())} flagged, {int((routed & ~is_flagged).sum())} routed to a lower tier, "
        f"{int((low_confidence & ~is_flagged & ~routed).sum())} low confidence) — "
        f"{'meets' if passed else 'below'} {spec.min_share:.0%}{confidently}"
    )
    if rejected.any():
        explanation += (
            f"; {int(rejected.sum())} rejected with a 4xx: invalid for the service, they never reached a model "
            "(not handled)"
        )
    if rejected_share > 1 - spec.min_share:
        explanation = (
            f"the OOD requests do not fit the service's schema: {rejected_share:.0%} of them were rejected with a "
            "4xx, so routing was not tested — declare request.features in the target (types, ranges, choices) and "
            f"check its input contract; {explanation}"
        )
    unsafe_kinds = sorted(set(kinds[ok & ~safe]))
    if unsafe_kinds:
        explanation += f"; served unsafely: {', '.join(unsafe_kinds)}"
    details: dict[str, float | str | None] = {
        "requests": float(len(requests)),
        "safe": float(safe.sum()),
        "rejected_4xx": float(rejected.sum()),
        "answered_2xx": float(ok.sum()),
        "flagged": float(is_flagged.sum()),
        "non_primary": float(routed.sum()),
        "low_confidence": float(low_confidence.sum()),
        "failed": float(failed.sum()),
        "median_confidence_unflagged": None if median_unflagged is None else float(median_unflagged),
    }
    unsafe = int((ok & ~safe).sum())
    if rejected_share > 1 - spec.min_share:
        way = Failing.DO_NOT_FIT
    else:
        way = Failing.SERVED_UNSAFELY if unsafe >= int(failed.sum()) else Failing.FAILED
    hint = way.advise(
        rejected=rejected_share * 100,
        unsafe=unsafe,
        kinds=", ".join(unsafe_kinds) or "none",
        confidence=median_unflagged,
        failed=int(failed.sum()),
    )
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=passed,
        measured=safe_share * 100,
        target=target,
        unit="%",
        explanation=explanation,
        details=details,
        table=table,
        advice=None if passed else hint,
    )


def data_needs(seen: Observed) -> Supported:
    """What this verifier needs of the target's data (``mlchaos target check``)."""
    if not seen.answered:
        return Support.NO, needs.NO_ANSWERS
    if seen.tier_on_ladder and seen.review:
        return needs.OK
    missing = [
        what for what, read in (("the tier", seen.tier_on_ladder), ("review flags", seen.review)) if not read
    ]
    return Support.LIMITED, f"{' and '.join(missing)} not read: fewer ways to count an answer as safe"


VERIFIER = Verifier(OodRouting, verify, needs=data_needs, ways=Failing)
