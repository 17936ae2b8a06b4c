"""``unanswered_share``: the share of requests in a phase that got no answer at all (status 0: refused, reset or
timed out) is at most ``max``. A phase without requests fails, measuring nothing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlchaos.experiments.verifiers import needs
from mlchaos.experiments.verifiers.base import Recording, Verdict, Verifier, VerifierSpec
from mlchaos.experiments.verifiers.phases import PhaseOrRun, requests_in


class UnansweredShare(VerifierSpec):
    type: Literal["unanswered_share"]
    max: float = Field(ge=0, le=1, description="Largest share of requests left without an answer.")
    phase: PhaseOrRun = "fault"


def verify(recording: Recording, spec: UnansweredShare) -> Verdict:
    requests = requests_in(recording, spec.phase)
    name, target = f"unanswered ({spec.phase})", f"≤ {spec.max:.0%}"
    if requests.empty:
        return Verdict(
            verifier=spec.type,
            name=name,
            passed=False,
            measured=None,
            target=target,
            unit="%",
            explanation=f"no requests in {spec.phase}",
        )
    share = float((requests["status"] == 0).mean())
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=share <= spec.max,
        measured=share * 100,
        target=target,
        unit="%",
        explanation=f"{share:.0%} of {len(requests)} requests got no answer",
        details={"requests": float(len(requests))},
    )


VERIFIER = Verifier(UnansweredShare, verify, needs=needs.answers)  # it counts statuses
