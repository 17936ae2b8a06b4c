"""``ood_routing``: inputs far outside the training data are not served as if the model knew them.

Measured over the requests tagged ``ood:<kind>`` (only ``kinds`` if given). One is *handled safely* when the target

- rejected it with a 4xx, or
- answered it flagged for review, or from a tier other than ``primary`` (routed away from the main model), or
- answered it with a confidence ≤ ``max_confidence`` (only when the scenario sets one: a near coin-flip answer
  does not pretend to know).

An unflagged primary answer above that confidence is *confidently wrong-footed*; 5xx and no response are not safe
either. The verdict holds when the safe share is ≥ ``min_share``. Measured: the safe share. Also reported: the
median confidence of the unflagged 2xx answers — the number that shows a model confidently answering garbage. The
table has one row per OOD kind.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import Field

from mlchaos.experiments.verifiers.base import Recording, Verdict, VerifierSpec
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
        return Verdict(
            "ood_routing",
            name,
            False,
            None,
            target,
            "%",
            f"no out-of-distribution request ({wanted}): nothing was measured",
        )
    ok = answered(requests)
    confidence = pd.to_numeric(requests["confidence"], errors="coerce")
    rejected, is_flagged, routed = client_error(requests), flagged(requests), degraded(requests)
    low_confidence = (
        ok & (confidence <= spec.max_confidence)
        if spec.max_confidence is not None
        else pd.Series(False, index=requests.index)
    )
    safe = rejected | is_flagged | routed | low_confidence
    unflagged = ok & ~is_flagged
    failed = server_error(requests) | hung(requests)
    safe_share = float(safe.mean())
    kinds = names(requests).rename("kind")
    median_unflagged = confidence[unflagged].median() if unflagged.any() else None
    per_kind_median = confidence[unflagged].groupby(kinds[unflagged]).median()
    table = counts_table(
        "Out-of-distribution requests by kind",
        kinds,
        {
            "rejected 4xx": rejected,
            "flagged": is_flagged,
            "non-primary tier": routed & ~is_flagged,
            "low confidence": low_confidence & ~is_flagged & ~routed,
            "unsafe": ~safe,
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
    unsafe_kinds = sorted(set(kinds[~safe]))
    explanation = (
        f"{safe_share:.1%} of {len(requests)} out-of-distribution requests handled safely "
        f"({int(rejected.sum())} rejected, {int(is_flagged.sum())} flagged, {int((routed & ~is_flagged).sum())} "
        f"routed to a lower tier) — {'meets' if passed else 'below'} {spec.min_share:.0%}{confidently}"
    )
    if unsafe_kinds:
        explanation += f"; served unsafely: {', '.join(unsafe_kinds)}"
    details: dict[str, float | str | None] = {
        "requests": float(len(requests)),
        "safe": float(safe.sum()),
        "rejected_4xx": float(rejected.sum()),
        "flagged": float(is_flagged.sum()),
        "non_primary": float(routed.sum()),
        "low_confidence": float(low_confidence.sum()),
        "failed": float(failed.sum()),
        "median_confidence_unflagged": None if median_unflagged is None else float(median_unflagged),
    }
    return Verdict(
        "ood_routing", name, passed, safe_share * 100, target, "%", explanation, details, table=table
    )
