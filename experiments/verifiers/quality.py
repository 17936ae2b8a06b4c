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
from mlchaos.experiments.verifiers.advice import Way, WaysOfFailing
from mlchaos.experiments.verifiers.base import Recording, Verdict, Verifier
from mlchaos.experiments.verifiers.canaries import CanarySpec, breakdown, canaries, select, worst_tier
from mlchaos.experiments.verifiers.phases import phase_judged


class Failing(WaysOfFailing):
    UNMEASURED = Way(
        "too few answered canaries",
        "the measurement: only {canaries} answered canaries (requests with a known label) in {scope} — check that "
        "the load's dataset carries labels the target's request declaration sends, and that {scope} was reached",
    )
    WRONG_ANSWERS = Way(
        "the answers were wrong, not missing",
        "the service answered, but wrongly: {accuracy}% correct in {scope}, worst from {worst} — a degraded tier "
        "serving stale or default predictions, or a model fed default values for the features it could not get; "
        "compare {worst}'s predictions with the labels",
    )


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
            advice=Failing.UNMEASURED.advise(canaries=len(chosen), scope=spec.scope()),
            judged=phase_judged(recording, spec.phase),
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
        advice=None
        if passed
        else Failing.WRONG_ANSWERS.advise(
            accuracy=value * 100, scope=spec.scope(), worst=worst_tier(chosen, accuracy)
        ),
        judged=phase_judged(recording, spec.phase),
    )


VERIFIER = Verifier(Quality, verify, needs=needs.canaries(confidence=False), ways=Failing)
