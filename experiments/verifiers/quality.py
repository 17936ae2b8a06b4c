"""``quality``: model accuracy on canary requests, so a fallback that answers *wrongly* cannot pass as resilience.

Accuracy = correct / answered canaries (see :mod:`~mlchaos.experiments.verifiers.canaries`: a canary is a 2xx
answer to a request with a known label; correct = prediction equals label), over the canaries of ``phase`` answered
by ``tiers`` (default all). Pass when accuracy ≥ ``min_accuracy``; fewer than ``min_canaries`` canaries fail as
too few to judge. ``details`` give accuracy and count per phase, per tier and per both (``accuracy.fault.rules``).
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import Field

from mlchaos.experiments.verifiers import needs
from mlchaos.experiments.verifiers.base import Recording, Verdict, Verifier
from mlchaos.experiments.verifiers.canaries import CanarySpec, breakdown, canaries, select


class Quality(CanarySpec):
    type: Literal["quality"]
    min_accuracy: float = Field(ge=0, le=1, description="Least share of canaries answered correctly.")


def accuracy(frame: pd.DataFrame) -> float:
    return float(frame["correct"].mean())


def verify(recording: Recording, spec: Quality) -> Verdict:
    name = f"quality ({spec.scope()})"
    target = f"≥ {spec.min_accuracy:.1%}"
    every = canaries(recording)
    details = breakdown(every, accuracy, "accuracy")
    chosen = select(every, spec)
    details["canaries"] = float(len(chosen))
    if len(chosen) < spec.min_canaries:
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="%",
            explanation=f"too few canaries: {len(chosen)} answered canaries in {spec.scope()} "
            f"(need ≥ {spec.min_canaries})",
            details=details,
        )
    value = accuracy(chosen)
    passed = value >= spec.min_accuracy
    explanation = (
        f"{int(chosen['correct'].sum())} of {len(chosen)} canaries in {spec.scope()} answered correctly "
        f"({value:.2%}) — {'meets' if passed else 'below'} {spec.min_accuracy:.1%}"
    )
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=passed,
        measured=value * 100,
        target=target,
        unit="%",
        explanation=explanation,
        details=details,
    )


VERIFIER = Verifier(Quality, verify, needs=needs.canaries(confidence=False))
