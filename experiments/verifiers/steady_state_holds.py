"""``steady_state``: the scenario's steady-state hypothesis holds over a whole phase (``baseline`` or ``after``).

The hypothesis (:class:`~mlchaos.experiments.verifiers.steady_state.SteadyState`) is evaluated once over every
request that started in the phase (in ``baseline``: and finished before the first fault), by
:func:`~mlchaos.experiments.verifiers.steady_state.evaluate`: availability (status in [200, 500)) ≥ its minimum,
each named tier's share of *all* requests ≥ its minimum, and p99 latency ≤ its bound. Measured: availability
in %. No requests in the phase fails with nothing measured. Answers from a tier not on the target's ladder count
for no tier, and are named.

Every run reports ``baseline`` and ``after`` anyway (:func:`steady_state_verdict`); declaring the verifier lets a
scenario weight it or check only one of them.
"""

from __future__ import annotations

from typing import Literal

from mlchaos.experiments.registry import kind_of
from mlchaos.experiments.verifiers import needs
from mlchaos.experiments.verifiers.advice import Way, WaysOfFailing
from mlchaos.experiments.verifiers.base import Judged, Phase, Recording, Verdict, Verifier, VerifierSpec
from mlchaos.experiments.verifiers.phases import budget_burn
from mlchaos.experiments.verifiers.steady_state import evaluate


class Failing(WaysOfFailing):
    UNMEASURED = Way(
        "no requests in the phase",
        "the measurement: no request in {phase} (the run stopped before it, or the load sent nothing) — the "
        "hypothesis could not be tested; the service was not judged",
    )
    BROKEN_BEFORE_FAULTS = Way(
        "the hypothesis failed before any fault",
        "the steady state fails before any fault ({failed}): the service is unhealthy to begin with, or the "
        "hypothesis does not describe it — fix that first; every other verdict of this run rests on it",
    )
    NOT_BACK = Way(
        "the service did not return to its steady state",
        "after the faults the steady state still fails ({failed}): the service stays degraded — a breaker still "
        "open, a process not restarted, a cache or pool holding failed connections; compare with the baseline",
    )


class SteadyStateHolds(VerifierSpec):
    type: Literal["steady_state"]
    phase: Literal["baseline", "after"] = "after"


_KIND = kind_of(SteadyStateHolds)  # this verdict is also made with no spec: every run reports the hypothesis


def steady_state_verdict(recording: Recording, phase: Phase) -> Verdict:
    """The hypothesis over the requests of ``phase``, as a verdict named ``steady_state (<phase>)``."""
    hypothesis = recording.steady_state
    window = recording.phase(phase)
    requests = (
        recording.requests_between(window.start, window.end) if window else recording.requests.iloc[0:0]
    )
    if phase == Phase.BASELINE and window is not None:
        # A request still in flight when the first fault hit says nothing about the system *before* it.
        requests = requests[requests["start"] + requests["latency_ms"] / 1000 <= window.end]
    result = evaluate(hypothesis, requests, tiers=recording.tiers)
    explanation = result.summary() + ("" if result.holds else " — " + "; ".join(result.failed))
    if window is None:
        explanation = f"the run never reached the {phase.value} phase — " + explanation
    measured = result.availability * 100 if result.availability is not None else None
    details: dict[str, float | str | None] = {"requests": float(result.requests), "p99_ms": result.p99_ms}
    details.update(result.unknown.details())
    details.update({f"share.{tier}": share for tier, share in result.tier_shares.items()})
    judged = None if window is None else Judged(window.start, window.end)
    if result.holds:
        hint = None
    elif measured is None:
        hint = Failing.UNMEASURED.advise(phase=phase.value)
    else:
        way = Failing.BROKEN_BEFORE_FAULTS if phase == Phase.BASELINE else Failing.NOT_BACK
        hint = way.advise(failed="; ".join(result.failed))
    # Made here, not by the registry: every run reports it without a spec.
    return Verdict(
        verifier=_KIND,
        name=f"{_KIND} ({phase.value})",
        passed=result.holds,
        measured=measured,
        target=hypothesis.describe(),
        unit="%",
        explanation=explanation,
        details=details,
        advice=hint,
        judged=judged,
        budget=budget_burn(recording, judged),
    )


def verify(recording: Recording, spec: SteadyStateHolds) -> Verdict:
    return steady_state_verdict(recording, Phase(spec.phase))


VERIFIER = Verifier(SteadyStateHolds, verify, needs=needs.steady_state, ways=Failing)
