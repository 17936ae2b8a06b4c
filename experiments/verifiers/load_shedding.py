"""``load_shedding``: under a traffic spike the service sheds the excess fast and keeps the rest fast.

During the spike (the window of fault ``fault``: injection to revert; without ``fault``, the ``fault`` phase)
every request is either

- **shed**: status 429, or an answer the target marked as shed (its response's ``shed`` field, recorded as
  ``shed``: the reference gateway's ``X-Shed: 1``); where the target said nothing, a 2xx from one of
  ``shed_tiers`` (tiers of its ladder; default none: only what the target marks counts) — these must be
  answered fast: p99 ≤ ``shed_p99_ms``;
- **admitted**: everything else (including failures, with the time they took) — their p99 ≤ ``admitted_p99_ms``.

And no request may fail outright: 5xx and no-response (status 0) count ≤ ``max_errors`` (default 0). A spike the
service absorbs without shedding anything passes the shed condition (there is nothing to be slow); require
shedding with ``min_shed_share``. Measured: the admitted requests' p99.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from mlchaos.experiments.service_declaration import TierName
from mlchaos.experiments.verifiers import advice, needs
from mlchaos.experiments.verifiers.advice import Way, WaysOfFailing
from mlchaos.experiments.verifiers.base import Judged, Recording, Verdict, Verifier, VerifierSpec
from mlchaos.experiments.verifiers.needs import Observed, Support, Supported
from mlchaos.experiments.verifiers.phases import (
    answered,
    fault_end,
    fault_judged,
    fault_not_applied,
    phase_judged,
    requests_in,
)
from mlchaos.experiments.verifiers.tiers import from_tiers

SHED_STATUS = 429


class Failing(WaysOfFailing):
    """In the order they are named when several conditions fail."""

    FAULT_NOT_APPLIED = advice.FAULT_NOT_APPLIED
    UNMEASURED = Way(
        "no requests during the spike",
        "the measurement: no request started during {scope} — check the spike fault's window in the journal and "
        "that the load ran then",
    )
    SHED_EVERYTHING = Way(
        "everything was shed",
        "all {requests} requests during {scope} were shed, nothing admitted: the admission limit is below even "
        "the normal load — raise it, or check that shed answers are marked only when shed",
    )
    ERRORS = Way(
        "requests failed instead of being shed",
        "{errors} requests got a 5xx or no response during {scope}: the service takes on more than it can serve "
        "and breaks — put a concurrency limit in front that answers 429 at once when it is full",
    )
    ADMITTED_SLOW = Way(
        "admitted requests queued",
        "admitted requests reached p99 {admitted} ms (≤ {admitted_max} ms wanted): they wait in a queue — the "
        "admission limit is above what the service serves in time; lower it, or bound the queue",
    )
    SHED_SLOW = Way(
        "shedding was slow",
        "shed requests took p99 {shed} ms (≤ {shed_max} ms wanted): the refusal comes after queueing or work — "
        "refuse at the door, before parsing, queueing or scoring",
    )
    TOO_LITTLE_SHED = Way(
        "too little was shed",
        "only {shed_share}% was shed (≥ {min_shed}% wanted): no load shedding engaged — the limit is never "
        "reached, or shed answers are not marked as the target declares",
    )


class LoadShedding(VerifierSpec):
    type: Literal["load_shedding"]
    fault: str | None = Field(
        None, description="Id of the traffic-spike fault; default: the whole fault phase."
    )
    admitted_p99_ms: float = Field(gt=0, description="Largest p99 of admitted (not shed) requests.")
    shed_p99_ms: float = Field(50.0, gt=0, description="Largest p99 of shed requests.")
    shed_tiers: tuple[TierName, ...] = Field(
        (),
        description="Tiers whose 2xx answers count as shed where the target does not mark shed answers "
        "(e.g. a cheap rules tier); default none: only what the target marks as shed, and 429s.",
    )
    max_errors: int = Field(0, ge=0, description="Most 5xx / no-response requests allowed during the spike.")
    min_shed_share: float = Field(0.0, ge=0, le=1, description="Least share of requests that must be shed.")

    tier_fields: ClassVar[tuple[str, ...]] = ("shed_tiers",)


def verify(recording: Recording, spec: LoadShedding) -> Verdict:
    scope = f"'{spec.fault}'" if spec.fault else "the fault phase"
    name = f"load_shedding ({spec.fault or 'fault'})"
    target = f"admitted p99 ≤ {spec.admitted_p99_ms:g} ms, shed p99 ≤ {spec.shed_p99_ms:g} ms, no errors"
    judged: Judged | None
    if spec.fault is None:
        requests, judged = requests_in(recording, "fault"), phase_judged(recording, "fault")
    else:
        fault = recording.fault(spec.fault)
        if fault is None:
            return fault_not_applied(spec.type, name, target, "ms", spec.fault)
        requests = recording.requests_between(fault.injected_at, fault_end(recording, fault))
        judged = fault_judged(recording, fault)
    if requests.empty:
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="ms",
            explanation=f"no requests during {scope}",
            advice=Failing.UNMEASURED.advise(scope=scope),
            judged=judged,
        )
    status = requests["status"].to_numpy()
    by_tier = answered(requests) & from_tiers(requests, spec.shed_tiers, recording.tiers)
    said = requests["shed"]
    # The target's own word where it gave one; the tier only stands in where it did not.
    marked = said.astype("boolean").fillna(by_tier.astype("boolean")).to_numpy(dtype=bool)
    shed = (status == SHED_STATUS) | marked
    errors = int(((status == 0) | (status >= 500)).sum())
    latency = requests["latency_ms"].to_numpy(dtype=float)
    admitted_p99 = float(np.percentile(latency[~shed], 99)) if (~shed).any() else None
    shed_p99 = float(np.percentile(latency[shed], 99)) if shed.any() else None
    shed_share = float(shed.mean())
    details: dict[str, float | str | None] = {
        "requests": float(len(requests)),
        "shed": float(shed.sum()),
        "shed_share": shed_share,
        "shed_p99_ms": shed_p99,
        "admitted_p99_ms": admitted_p99,
        "errors": float(errors),
    }
    if admitted_p99 is None:
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="ms",
            explanation=f"all {len(requests)} requests during {scope} were shed: nothing was admitted",
            details=details,
            advice=Failing.SHED_EVERYTHING.advise(requests=len(requests), scope=scope),
            judged=judged,
        )
    checks = [
        (
            admitted_p99 <= spec.admitted_p99_ms,
            f"admitted p99 {admitted_p99:.0f} ms (≤ {spec.admitted_p99_ms:g})",
            Failing.ADMITTED_SLOW,
        ),
        (
            shed_p99 is None or shed_p99 <= spec.shed_p99_ms,
            "nothing shed" if shed_p99 is None else f"shed p99 {shed_p99:.0f} ms (≤ {spec.shed_p99_ms:g})",
            Failing.SHED_SLOW,
        ),
        (errors <= spec.max_errors, f"{errors} 5xx/timeouts (≤ {spec.max_errors})", Failing.ERRORS),
        (
            shed_share >= spec.min_shed_share,
            f"{shed_share:.1%} shed (≥ {spec.min_shed_share:.0%})",
            Failing.TOO_LITTLE_SHED,
        ),
    ]
    passed = all(ok for ok, _, _ in checks)
    explanation = f"{len(requests)} requests during {scope}: " + "; ".join(
        f"{'✓' if ok else '✗'} {text}" for ok, text, _ in checks
    )
    failing = [way for ok, _, way in checks if not ok]
    # Errors first: a service that breaks under the spike explains a slow admitted p99 too.
    way = Failing.ERRORS if Failing.ERRORS in failing else next(iter(failing), None)
    hint = None
    if way is not None:
        hint = way.advise(
            errors=errors,
            scope=scope,
            admitted=admitted_p99,
            admitted_max=spec.admitted_p99_ms,
            shed=shed_p99,
            shed_max=spec.shed_p99_ms,
            shed_share=shed_share * 100,
            min_shed=spec.min_shed_share * 100,
        )
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=passed,
        measured=admitted_p99,
        target=target,
        unit="ms",
        explanation=explanation,
        details=details,
        advice=hint,
        judged=judged,
    )


def data_needs(seen: Observed) -> Supported:
    """What this verifier needs of the target's data (``mlchaos target check``)."""
    if not seen.answered:
        return Support.NO, needs.NO_ANSWERS
    return (
        needs.OK if seen.shed else (Support.LIMITED, "only 429s count as shed: response.shed is not declared")
    )


VERIFIER = Verifier(LoadShedding, verify, needs=data_needs, ways=Failing)
