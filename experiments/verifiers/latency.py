"""``latency``: a latency percentile of one phase (optionally of some tiers only) against a bound.

All requests count, including failed ones with the time they took to fail: a timeout is the slowest answer of all.
Percentiles interpolate linearly between order statistics (numpy's default). ``details`` also carries p50/p95/p99
per phase (``p99.fault``) and per phase and tier (``p99.fault.fallback``; ``none`` = no tier reported), so a report
can show where the time went without a second verifier.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from mlchaos.experiments.service_declaration import TierName
from mlchaos.experiments.verifiers import needs
from mlchaos.experiments.verifiers.advice import Advice, Way, WaysOfFailing
from mlchaos.experiments.verifiers.base import Recording, Verdict, Verifier, VerifierSpec
from mlchaos.experiments.verifiers.frames import selected
from mlchaos.experiments.verifiers.phases import PhaseOrRun, phase_judged, requests_in
from mlchaos.experiments.verifiers.tiers import NO_TIER, from_tiers, labels

BREAKDOWN_PERCENTILES = (50, 95, 99)
WHOLE_SHIFT = 0.5
"""The median rose by at least this share of the percentile's rise over the baseline: every request paid the
extra time, not just a tail — the signature of a delay passed straight through."""


class Failing(WaysOfFailing):
    UNMEASURED = Way(
        "no requests in scope",
        "the measurement: no request in {scope} — check that the run reached the phase and, with `tiers`, that "
        "those tiers answered at all (see the tier verdicts)",
    )
    NO_TIMEOUT = Way(
        "every request slowed by about the same delay",
        "every request got slower by about the same amount in {phase} (median +{p50_rise} ms, p{percentile} "
        "+{rise} ms over the baseline): the delay passes straight through — no timeout on the slow dependency, "
        "or one longer than the delay; set a timeout below {max_ms} ms on that call and fall back",
    )
    SLOW_TAIL = Way(
        "only the tail slowed",
        "the median stayed near the baseline (+{p50_rise} ms) but p{percentile} rose {rise} ms in {phase}: some "
        "requests wait out a timeout or a retry before falling back — shorten that timeout, retry less, or open "
        "the breaker sooner so later requests skip the wait",
    )
    SLOW_ALREADY = Way(
        "already too slow before the fault",
        "p{percentile} was already {base} ms in the baseline (≤ {max_ms} ms wanted): this is the service's normal "
        "speed, not the fault's doing — look at capacity and at the slowest tier ({slowest})",
    )
    SLOW = Way(
        "too slow, with no baseline to compare",
        "p{percentile} is {measured} ms in {phase} (≤ {max_ms} ms wanted) and there is no fault-free baseline to "
        "compare it with; the slowest tier there is {slowest} — look at its calls' timeouts and its capacity",
    )


def advise(details: dict[str, float | str | None], spec: Latency, value: float) -> Advice:
    """Where to look, from how the phase's latency compares with the baseline's (``details`` of :func:`breakdown`)."""
    percentile = int(spec.percentile) if spec.percentile in BREAKDOWN_PERCENTILES else 99
    base = details.get(f"p{percentile}.baseline")
    base_p50, p50 = details.get("p50.baseline"), details.get(f"p50.{spec.phase}")
    tiers = {
        key.rsplit(".", 1)[1]: v
        for key, v in details.items()
        if key.startswith(f"p99.{spec.phase}.") and isinstance(v, float)
    }
    tiers.pop(NO_TIER, None)  # failures carry no tier: the slowest *tier* is the one to look at
    slowest = max(tiers, key=lambda tier: tiers[tier], default="none answered")
    facts: dict[str, object] = {"phase": spec.phase, "percentile": spec.percentile, "max_ms": spec.max_ms}
    facts.update(measured=value, slowest=slowest, base=base)
    if not isinstance(base, float) or not isinstance(base_p50, float) or not isinstance(p50, float):
        return Failing.SLOW.advise(**facts)
    if spec.phase in ("baseline", "run"):
        return Failing.SLOW.advise(**facts)
    rise, p50_rise = value - base, p50 - base_p50
    if base > spec.max_ms or rise <= 0:
        return Failing.SLOW_ALREADY.advise(**facts)
    facts.update(rise=rise, p50_rise=p50_rise)
    way = Failing.NO_TIMEOUT if p50_rise >= WHOLE_SHIFT * rise else Failing.SLOW_TAIL
    return way.advise(**facts)


class Latency(VerifierSpec):
    type: Literal["latency"]
    phase: PhaseOrRun = "run"
    percentile: float = Field(99, gt=0, le=100)
    max_ms: float = Field(gt=0)
    tiers: tuple[TierName, ...] = Field((), description="Only requests answered by these tiers; empty = all.")

    tier_fields: ClassVar[tuple[str, ...]] = ("tiers",)


def _by_tier(requests: pd.DataFrame) -> Iterator[tuple[str, np.ndarray]]:
    """Each tier seen (:func:`labels`) and which requests it labels, in the order ``groupby`` gives them (the
    categories' order; sorted names for plain strings) — one mask at a time, not a grouped copy of the phase."""
    tiers = labels(requests)
    grouped = tiers if isinstance(tiers.dtype, pd.CategoricalDtype) else tiers.astype("category")
    codes = grouped.cat.codes.to_numpy()
    for code, tier in enumerate(grouped.cat.categories):
        inside = codes == code
        if inside.any():
            yield str(tier), inside


def breakdown(recording: Recording) -> dict[str, float | str | None]:
    """p50/p95/p99 (ms) per phase and per phase and tier, keyed ``p99.fault`` and ``p99.fault.fallback``."""
    details: dict[str, float | str | None] = {}
    for window in recording.phases:
        requests = recording.requests_between(window.start, window.end)
        if requests.empty:
            continue
        latency = requests["latency_ms"].to_numpy(dtype=float)
        groups = [("", latency), *((f".{tier}", latency[inside]) for tier, inside in _by_tier(requests))]
        for suffix, values in groups:
            percentiles = np.percentile(values, BREAKDOWN_PERCENTILES)
            for percentile, value in zip(BREAKDOWN_PERCENTILES, percentiles, strict=True):
                details[f"p{percentile}.{window.phase.value}{suffix}"] = float(value)
    return details


def verify(recording: Recording, spec: Latency) -> Verdict:
    scope = spec.phase + (f", {'/'.join(spec.tiers)}" if spec.tiers else "")
    name = f"latency p{spec.percentile:g} ({scope})"
    target = f"≤ {spec.max_ms:g} ms"
    requests = requests_in(recording, spec.phase)
    if spec.tiers:
        requests = selected(requests, from_tiers(requests, spec.tiers, recording.tiers), ["latency_ms"])
    details: dict[str, float | str | None] = {"requests": float(len(requests))}
    details.update(breakdown(recording))
    if requests.empty:
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="ms",
            explanation=f"no requests in {scope}",
            details=details,
            advice=Failing.UNMEASURED.advise(scope=scope),
            judged=phase_judged(recording, spec.phase),
        )
    value = float(np.percentile(requests["latency_ms"], spec.percentile))
    passed = value <= spec.max_ms
    explanation = (
        f"p{spec.percentile:g} of {len(requests)} requests in {scope} is {value:.0f} ms"
        f" — {'within' if passed else 'over'} {spec.max_ms:g} ms"
    )
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=passed,
        measured=value,
        target=target,
        unit="ms",
        explanation=explanation,
        details=details,
        advice=None if passed else advise(details, spec, value),
        judged=phase_judged(recording, spec.phase),
    )


VERIFIER = Verifier(Latency, verify, needs=needs.answers, ways=Failing)
