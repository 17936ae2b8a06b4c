"""``availability``: the share of requests the service answered without a server error, by any tier.

Available means a 2xx the load could read as an answer, or a 4xx (the service judged the input); a 5xx, a
timeout, a refused connection, or a 2xx the target's response mapping cannot read (the verdict says why) is not.
Graceful degradation exists to keep this number up while dependencies fail.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import Field

from mlchaos.experiments.verifiers import needs
from mlchaos.experiments.verifiers.advice import Advice, Way, WaysOfFailing
from mlchaos.experiments.verifiers.base import Recording, Verdict, Verifier, VerifierSpec
from mlchaos.experiments.verifiers.phases import PhaseOrRun, bad_mix, phase_judged, requests_in
from mlchaos.experiments.verifiers.steady_state import available, unreadable_2xx


class Failing(WaysOfFailing):
    UNMEASURED = Way(
        "no requests in the phase",
        "the measurement: no request started in {phase} — check that the run reached it (the journal) and that "
        "the scenario's load sends traffic then; the service was not judged",
    )
    HANGS = Way(
        "most failures got no response (timeout, refused, reset)",
        "{timeouts} of {bad} failed requests got no response at all: the service hangs or is down instead of "
        "degrading — look for a call to the failing dependency without a timeout, and at the process' liveness",
    )
    SERVER_ERRORS = Way(
        "most failures were 5xx",
        "{errors} of {bad} failed requests were 5xx: the failing dependency's error reaches the client — look at "
        "the error handling around that call; the fallback chain does not catch this error",
    )
    UNREADABLE = Way(
        "most failures were 2xx the target's declaration cannot read",
        "{unreadable} of {bad} failures were 2xx answers the target's response declaration cannot read: compare "
        "the declared response fields with what the service returns (`mlchaos target check`) before blaming it",
    )


def failure_way(requests: pd.DataFrame) -> Failing:
    """The commonest kind of unavailable request among ``requests``: no response, 5xx, or unreadable 2xx."""
    timeouts, errors, unreadable = bad_mix(requests)
    if unreadable > max(timeouts, errors):
        return Failing.UNREADABLE
    return Failing.HANGS if timeouts >= errors else Failing.SERVER_ERRORS


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
            advice=Failing.UNMEASURED.advise(phase=spec.phase),
            judged=phase_judged(recording, spec.phase),
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
        advice=None if passed else advise(requests),
        judged=phase_judged(recording, spec.phase),
    )


def advise(requests: pd.DataFrame) -> Advice:
    """Where to look when too many of ``requests`` were unavailable, from what kind of failure dominated."""
    timeouts, errors, unreadable = bad_mix(requests)
    bad = int((~available(requests)).sum())
    return failure_way(requests).advise(timeouts=timeouts, errors=errors, unreadable=unreadable, bad=bad)


VERIFIER = Verifier(Availability, verify, needs=needs.answers, ways=Failing)
