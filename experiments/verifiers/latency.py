"""``latency``: a latency percentile of one phase (optionally of some tiers only) against a bound.

All requests count, including failed ones with the time they took to fail: a timeout is the slowest answer of all.
Percentiles interpolate linearly between order statistics (numpy's default). ``details`` also carries p50/p95/p99
per phase (``p99.fault``) and per phase and tier (``p99.fault.fallback``; ``none`` = no tier reported), so a report
can show where the time went without a second verifier.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from mlchaos.experiments.service_declaration import TierName
from mlchaos.experiments.verifiers import needs
from mlchaos.experiments.verifiers.base import Recording, Verdict, Verifier, VerifierSpec
from mlchaos.experiments.verifiers.phases import PhaseOrRun, requests_in
from mlchaos.experiments.verifiers.tiers import from_tiers, labels

BREAKDOWN_PERCENTILES = (50, 95, 99)


class Latency(VerifierSpec):
    type: Literal["latency"]
    phase: PhaseOrRun = "run"
    percentile: float = Field(99, gt=0, le=100)
    max_ms: float = Field(gt=0)
    tiers: tuple[TierName, ...] = Field((), description="Only requests answered by these tiers; empty = all.")

    tier_fields: ClassVar[tuple[str, ...]] = ("tiers",)


def breakdown(recording: Recording) -> dict[str, float | str | None]:
    """p50/p95/p99 (ms) per phase and per phase and tier, keyed ``p99.fault`` and ``p99.fault.fallback``."""
    details: dict[str, float | str | None] = {}
    for window in recording.phases:
        requests = recording.requests_between(window.start, window.end)
        if requests.empty:
            continue
        latency = requests["latency_ms"]
        groups = [
            ("", latency),
            *((f".{tier}", group) for tier, group in latency.groupby(labels(requests))),
        ]
        for suffix, values in groups:
            percentiles = np.percentile(values.to_numpy(dtype=float), BREAKDOWN_PERCENTILES)
            for percentile, value in zip(BREAKDOWN_PERCENTILES, percentiles, strict=True):
                details[f"p{percentile}.{window.phase.value}{suffix}"] = float(value)
    return details


def verify(recording: Recording, spec: Latency) -> Verdict:
    scope = spec.phase + (f", {'/'.join(spec.tiers)}" if spec.tiers else "")
    name = f"latency p{spec.percentile:g} ({scope})"
    target = f"≤ {spec.max_ms:g} ms"
    requests = requests_in(recording, spec.phase)
    if spec.tiers:
        requests = requests[from_tiers(requests, spec.tiers, recording.tiers)]
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
    )


VERIFIER = Verifier(Latency, verify, needs=needs.answers)
