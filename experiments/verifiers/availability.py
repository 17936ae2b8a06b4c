"""``availability``: the share of requests the service answered without a server error, by any tier.

Available means a 2xx the load could read as an answer, or a 4xx (the service judged the input); a 5xx, a
timeout, a refused connection, or a 2xx the target's response mapping cannot read (the verdict says why) is not.
Graceful degradation exists to keep this number up while dependencies fail.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlchaos.experiments.verifiers import needs
from mlchaos.experiments.verifiers.base import Recording, Verdict, Verifier, VerifierSpec
from mlchaos.experiments.verifiers.phases import PhaseOrRun, requests_in
from mlchaos.experiments.verifiers.steady_state import available, unreadable_2xx


class Availability(VerifierSpec):
    type: Literal["availability"]
    min: float = Field(0.99, ge=0, le=1, description="Least share of available requests.")
    phase: PhaseOrRun = "run"


def verify(recording: Recording, spec: Availability) -> Verdict:
    requests = requests_in(recording, spec.phase)
    target = f"≥ {spec.min:.2%}"
    name = f"availability ({spec.phase})"
    if requests.empty:
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="%",
            explanation=f"no requests in {spec.phase}",
        )
    ok = available(requests)
    share = float(ok.mean())
    bad = int((~ok).sum())
    passed = share >= spec.min
    explanation = (
        f"{share:.2%} of {len(requests)} requests answered without a server error "
        f"({bad} failed: 5xx, timeout or refused) — {'meets' if passed else 'below'} {spec.min:.2%}"
    )
    if unreadable := unreadable_2xx(requests):  # a 2xx the response mapping cannot read is no answer
        explanation += f"; {unreadable}"
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=passed,
        measured=share * 100,
        target=target,
        unit="%",
        explanation=explanation,
        details={"requests": float(len(requests)), "failed": float(bad)},
    )


VERIFIER = Verifier(Availability, verify, needs=needs.answers)
