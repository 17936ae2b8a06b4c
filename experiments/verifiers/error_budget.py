"""``error_budget``: how much of the error budget one run (or one phase) burned.

With an SLO of ``slo`` (e.g. 0.995 = 99.5 % available), the budget is the number of bad responses the requests
may contain: ``budget = (1 − slo) × requests``. Bad = not available (status 0 — timeout, refused, reset — or
≥ 500; a 4xx is an answer). ``burned = bad / budget``; measured as a percentage, 100 % = exactly the whole
budget. Pass when ``burned ≤ max_burn`` (default 1.0, i.e. the run stayed within its budget).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlchaos.experiments.verifiers import needs
from mlchaos.experiments.verifiers.advice import Way, WaysOfFailing
from mlchaos.experiments.verifiers.availability import Failing as Unavailable
from mlchaos.experiments.verifiers.availability import advise
from mlchaos.experiments.verifiers.base import Recording, Verdict, Verifier, VerifierSpec
from mlchaos.experiments.verifiers.phases import PhaseOrRun, phase_judged, requests_in
from mlchaos.experiments.verifiers.steady_state import available


class Failing(WaysOfFailing):
    """The budget burns the way availability fails: the same ways, the same advice."""

    UNMEASURED = Way(
        "no requests in the phase",
        "the measurement: no request started in {phase}, so no budget was spent or kept — check that the run "
        "reached it and that the load sends traffic then",
    )
    HANGS = Unavailable.HANGS.value
    SERVER_ERRORS = Unavailable.SERVER_ERRORS.value
    UNREADABLE = Unavailable.UNREADABLE.value


TOLERANCE = 1e-9
"""``1 − slo`` is not exact in binary floating point; a run exactly at its budget must not fail by rounding."""


class ErrorBudget(VerifierSpec):
    type: Literal["error_budget"]
    slo: float = Field(0.995, gt=0, lt=1, description="Target share of available responses.")
    phase: PhaseOrRun = "run"
    max_burn: float = Field(1.0, gt=0, description="Largest burned fraction of the budget (1.0 = all of it).")


def verify(recording: Recording, spec: ErrorBudget) -> Verdict:
    name = f"error_budget ({spec.phase}, SLO {spec.slo:.2%})"
    target = f"≤ {spec.max_burn:.0%} burned"
    requests = requests_in(recording, spec.phase)
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
    bad = int((~available(requests)).sum())
    budget = (1 - spec.slo) * len(requests)
    burned = bad / budget
    passed = burned <= spec.max_burn + TOLERANCE
    explanation = (
        f"{bad} bad responses (5xx, timeout or refused) of {len(requests)} in {spec.phase}; the SLO allows "
        f"{budget:.1f} — {burned:.1%} of the budget burned, {'within' if passed else 'over'} {spec.max_burn:.0%}"
    )
    details: dict[str, float | str | None] = {
        "requests": float(len(requests)),
        "bad": float(bad),
        "allowed": budget,
        "remaining": budget - bad,
    }
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=passed,
        measured=burned * 100,
        target=target,
        unit="%",
        explanation=explanation,
        details=details,
        advice=None if passed else advise(requests),
        judged=phase_judged(recording, spec.phase),
    )


VERIFIER = Verifier(ErrorBudget, verify, needs=needs.answers, ways=Failing)
