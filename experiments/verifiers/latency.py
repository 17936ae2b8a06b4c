"""``latency``: a latency percentile of one phase (optionally of some tiers only) against a bound.

All requests count, including failed ones with the time they took to fail: a timeout is the slowest answer of all.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from mlchaos.experiments.records import Tier
from mlchaos.experiments.verifiers.base import Recording, Verdict, VerifierSpec
from mlchaos.experiments.verifiers.phases import PhaseOrRun, requests_in


class Latency(VerifierSpec):
    type: Literal["latency"]
    phase: PhaseOrRun = "run"
    percentile: float = Field(99, gt=0, le=100)
    max_ms: float = Field(gt=0)
    tiers: tuple[Tier, ...] = Field((), description="Only requests answered by these tiers; empty = all.")


def verify(recording: Recording, spec: Latency) -> Verdict:
    scope = spec.phase + (f", {'/'.join(t.value for t in spec.tiers)}" if spec.tiers else "")
    name = f"latency p{spec.percentile:g} ({scope})"
    target = f"≤ {spec.max_ms:g} ms"
    requests = requests_in(recording, spec.phase)
    if spec.tiers:
        requests = requests[requests["tier"].isin([t.value for t in spec.tiers])]
    if requests.empty:
        return Verdict("latency", name, False, None, target, "ms", f"no requests in {scope}")
    value = float(np.percentile(requests["latency_ms"], spec.percentile))
    passed = value <= spec.max_ms
    explanation = (
        f"p{spec.percentile:g} of {len(requests)} requests in {scope} is {value:.0f} ms"
        f" — {'within' if passed else 'over'} {spec.max_ms:g} ms"
    )
    return Verdict(
        "latency", name, passed, value, target, "ms", explanation, {"requests": float(len(requests))}
    )
