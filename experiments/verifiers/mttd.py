"""``mttd``: mean time to detect one fault, as docs/glossary.md defines *MTTD*.

From the fault's injection to the first moment the system visibly reacts, whichever comes first:

- the first 2xx answer *arriving* (``start + latency``) at or after the injection from a tier of the target's
  ladder other than its first, best one (a request already in flight at the injection counts: the fault hit it
  too); an answer from a tier not on the ladder is no reaction — it is counted and named instead;
- the first sign of a breaker leaving ``closed`` after the injection: a state sample going from ``closed`` to
  ``open``/``half_open``, or the ``closed>open`` counter rising (only ``dependencies`` if given, else any).

Undefined — and failed — if neither happens before the fault is reverted (or the run ends, if never reverted).
Answers not from the best tier in the baseline would make any MTTD look instant, so their share is reported
alongside.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlchaos.experiments.durations import PositiveSeconds
from mlchaos.experiments.verifiers import advice, needs
from mlchaos.experiments.verifiers import breaker_signals as signals
from mlchaos.experiments.verifiers.advice import Way, WaysOfFailing
from mlchaos.experiments.verifiers.base import Judged, Recording, Verdict, Verifier, VerifierSpec
from mlchaos.experiments.verifiers.frames import selected
from mlchaos.experiments.verifiers.needs import Observed, Support, Supported
from mlchaos.experiments.verifiers.phases import answered, fault_end, fault_not_applied, requests_in
from mlchaos.experiments.verifiers.steady_state import CHUNK_ROWS
from mlchaos.experiments.verifiers.tiers import from_tiers, unknown_tiers, with_unknown


class Failing(WaysOfFailing):
    FAULT_NOT_APPLIED = advice.FAULT_NOT_APPLIED
    UNMEASURED = Way(
        "no signal that could show a reaction",
        "the measurement: no answer from a degraded tier and no breaker signal could be read — declare the "
        "target's tier field and breaker signals (`mlchaos target check` shows what is read)",
    )
    NO_REACTION = Way(
        "nothing reacted while the fault was applied",
        "nothing reacted to '{fault}': no answer from a tier below {best}, no breaker left closed — requests keep "
        "waiting on the failing dependency or its errors pass straight through: look for a missing timeout on "
        "that call and a breaker that never counts its failures",
    )
    SLOW_REACTION = Way(
        "the first reaction came too late",
        "the first reaction ({signal}) came {measured}s after the injection (≤ {max}s wanted): the service waits "
        "for a timeout or a failure count before reacting — shorten the timeout on the failing dependency or the "
        "failures its breaker needs",
    )


class Mttd(VerifierSpec):
    type: Literal["mttd"]
    fault: str = Field(description="Id of the fault in the timeline.")
    max: PositiveSeconds = Field(description="Largest acceptable MTTD.")
    dependencies: tuple[str, ...] = Field((), description="Breakers that count as a reaction; empty = all.")


def _first_fallback_answer(recording: Recording, since: float, until: float) -> float | None:
    first: float | None = None
    for begin in range(0, len(recording.requests), CHUNK_ROWS):  # per chunk: no run-long float arrays
        requests = recording.requests.iloc[begin : begin + CHUNK_ROWS]
        arrived = requests["start"].to_numpy() + requests["latency_ms"].to_numpy() / 1000.0
        degraded = from_tiers(requests, recording.tiers[1:], recording.tiers)
        fallback = (answered(requests) & degraded).to_numpy()
        hits = arrived[fallback & (arrived >= since) & (arrived < until)]
        if len(hits):
            first = float(hits.min()) if first is None else min(first, float(hits.min()))
    return first


def verify(recording: Recording, spec: Mttd) -> Verdict:
    name = f"mttd ({spec.fault})"
    target = f"≤ {spec.max:g}s"
    fault = recording.fault(spec.fault)
    if fault is None:
        return fault_not_applied(spec.type, name, target, "s", spec.fault)
    since, until = fault.injected_at, fault_end(recording, fault)
    candidates: dict[str, float] = {}
    answer = _first_fallback_answer(recording, since, until)
    if answer is not None:
        candidates["fallback answer"] = answer
    for dependency in spec.dependencies or signals.dependencies(recording.probes):
        # The window is open at the revert: a breaker seen opening in a sample after it is no detection.
        reaction = signals.first_reaction(recording.probes, dependency, since, until - 1e-9)
        if reaction is not None:
            candidates[f"breaker {dependency}"] = reaction
    baseline = requests_in(recording, "baseline")
    baseline_answers = selected(baseline, answered(baseline), ["tier"])
    best = recording.tiers[0]
    noise = float((baseline_answers["tier"] != best).mean()) if not baseline_answers.empty else None
    during = recording.requests_between(since, until)
    unknown = unknown_tiers(selected(during, answered(during), ["tier"]), recording.tiers)
    details: dict[str, float | str | None] = {
        f"{signal.replace(' ', '.')}_after_s": moment - since for signal, moment in candidates.items()
    }
    details["baseline_not_best_share"] = noise
    details.update(unknown.details())
    judged = Judged(since, until)
    if not candidates:
        blind = not recording.requests["tier"].notna().any() and not signals.dependencies(recording.probes)
        way = Failing.UNMEASURED if blind else Failing.NO_REACTION
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="s",
            explanation=with_unknown(
                f"no reaction to '{spec.fault}' before it was reverted: no answer from a tier below {best} and "
                "no breaker left closed" + signals.blind_spots(recording.probes, spec.dependencies),
                unknown,
            ),
            details=details,
            advice=way.advise(fault=spec.fault, best=best),
            judged=judged,
        )
    signal, moment = min(candidates.items(), key=lambda item: item[1])
    mttd = moment - since
    passed = mttd <= spec.max
    details["first_signal"] = signal
    explanation = (
        f"first reaction {mttd:.2f}s after injection ({signal})"
        f" — {'within' if passed else 'over'} {spec.max:g}s"
    )
    others = [f"{s} {m - since:.2f}s" for s, m in candidates.items() if s != signal]
    if others:
        explanation += f"; then {', '.join(others)}"
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=passed,
        measured=mttd,
        target=target,
        unit="s",
        explanation=with_unknown(explanation, unknown),
        details=details,
        advice=None if passed else Failing.SLOW_REACTION.advise(signal=signal, measured=mttd, max=spec.max),
        judged=judged,
    )


def data_needs(seen: Observed) -> Supported:
    """What this verifier needs of the target's data (``mlchaos target check``)."""
    if seen.tier_on_ladder:
        return needs.OK if seen.breakers else (Support.LIMITED, "degraded tiers only: no breaker signal read")
    if seen.breakers:
        return Support.LIMITED, "breakers only: " + needs.NO_TIER
    return Support.NO, f"{needs.NO_TIER}, and no breaker signal read"


VERIFIER = Verifier(Mttd, verify, needs=data_needs, ways=Failing)
