"""``breaker``: one dependency's circuit breaker opens on a fault, probes half-open, closes after the revert, and
does not flap.

Four sub-conditions, all required (see :mod:`~mlchaos.experiments.verifiers.breaker_signals` for how the probe
samples are read — an event is dated at the first sample that shows it, from either the ``breaker:<dependency>``
state samples or the ``transitions:<dependency>:<from>><to>`` counters, whichever shows it first):

- **open**: the breaker leaves ``closed`` (counter ``closed>open`` rises, or a state sample goes from ``closed`` to
  ``open``/``half_open``) at most ``open_within`` seconds after the fault's injection, and before its revert;
- **half-open** (if ``half_open_after``): counter ``open>half_open`` rises, or a ``half_open`` sample is seen,
  after the injection;
- **close**: at most ``close_within`` seconds after the revert the breaker is seen ``closed`` (a state sample, or
  counter ``half_open>closed`` rising); 0 s if it was already seen closed again before the revert;
- **flaps**: ``closed>open`` transitions over the whole run ≤ ``max_flaps`` (the larger of the counter's
  increase and the number of ``closed`` → not-``closed`` changes in the state samples; both are lower bounds).

Measured: seconds from the injection to the opening. No probe data for the dependency (the target declares no
breaker signals, names it otherwise, or its samples could not be read — the explanation says which), or a fault
that was never applied, fails with nothing measured.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from mlchaos.experiments.durations import PositiveSeconds
from mlchaos.experiments.verifiers import advice
from mlchaos.experiments.verifiers import breaker_signals as signals
from mlchaos.experiments.verifiers.advice import Way, WaysOfFailing
from mlchaos.experiments.verifiers.base import FaultWindow, Judged, Recording, Verdict, Verifier, VerifierSpec
from mlchaos.experiments.verifiers.breaker_signals import CLOSED, HALF_OPEN, OPEN
from mlchaos.experiments.verifiers.needs import Observed, Support, Supported
from mlchaos.experiments.verifiers.phases import fault_end


class Failing(WaysOfFailing):
    """In the order they are named when several sub-conditions fail: the first explains the others."""

    FAULT_NOT_APPLIED = advice.FAULT_NOT_APPLIED
    UNMEASURED = Way(
        "no breaker signal for the dependency",
        "the measurement, not the breaker: no state or transition sample of '{dependency}' was read — check that "
        "the target declares its breaker signals under that name (signals.breakers / signals.transitions) and "
        "that its metrics could be read (`mlchaos target check`)",
    )
    NEVER_OPENED = Way(
        "the breaker never opened",
        "the breaker on '{dependency}' never opened while '{fault}' was applied: its failure threshold is never "
        "reached — the failing calls may not count as failures (errors caught before the breaker sees them, a "
        "timeout longer than the fault) or the threshold is too high for this traffic",
    )
    OPENED_LATE = Way(
        "the breaker opened too late",
        "the breaker on '{dependency}' opened {open}s after the injection (≤ {open_within}s wanted): it needs too "
        "many failures, or each failure waits for a long call timeout — lower either",
    )
    NEVER_HALF_OPENED = Way(
        "the breaker opened but never half-opened",
        "the breaker on '{dependency}' opened but never half-opened: look at its recovery timer — the reset "
        "timeout never fires, or is longer than the run; without it the dependency is never tried again",
    )
    NEVER_CLOSED = Way(
        "the breaker never closed after the revert",
        "the breaker on '{dependency}' never closed after '{fault}' was reverted: its half-open trial calls keep "
        "failing (a reused broken connection, a health call that differs from real traffic) or their successes "
        "are not counted toward closing",
    )
    CLOSED_LATE = Way(
        "the breaker closed too late",
        "the breaker on '{dependency}' closed {close}s after the revert (≤ {close_within}s wanted): its recovery "
        "timeout plus the successes it needs in half-open take longer than that",
    )
    NOT_REVERTED = Way(
        "the fault was never reverted, so closing could not be judged",
        "the measurement: '{fault}' was never reverted, so the breaker's closing could not be judged — look at "
        "the run's journal (the revert's error) and run `mlchaos rollback` on the run directory",
    )
    FLAPPING = Way(
        "the breaker flapped",
        "the breaker on '{dependency}' opened {flaps} times over the run (≤ {max_flaps} wanted): it reopens on "
        "isolated failures — require more failures in its window, or a longer half-open trial",
    )


def _first_way(
    failed: list[str], open_s: float | None, close_s: float | None, reverted: bool
) -> Failing | None:
    """The way to name when these sub-conditions failed: the earliest in the breaker's cycle explains the rest."""
    if "open" in failed:
        return Failing.NEVER_OPENED if open_s is None else Failing.OPENED_LATE
    if "half_open" in failed:
        return Failing.NEVER_HALF_OPENED
    if "close" in failed:
        if not reverted:
            return Failing.NOT_REVERTED
        return Failing.NEVER_CLOSED if close_s is None else Failing.CLOSED_LATE
    return Failing.FLAPPING if "flaps" in failed else None


class Breaker(VerifierSpec):
    type: Literal["breaker"]
    dependency: str = Field(
        min_length=1, description="The breaker's dependency, as the target's declared signals name it."
    )
    fault: str = Field(description="Id of the fault in the timeline that should open the breaker.")
    open_within: PositiveSeconds = Field(5.0, description="Longest acceptable delay from injection to open.")
    half_open_after: bool = Field(True, description="Require a half-open probe after the injection.")
    close_within: PositiveSeconds = Field(10.0, description="Longest acceptable delay from revert to closed.")
    max_flaps: int = Field(3, ge=0, description="Most closed>open transitions allowed over the whole run.")


def _earliest(*moments: float | None) -> float | None:
    return min((m for m in moments if m is not None), default=None)


def _closed_at(probes: pd.DataFrame, spec: Breaker, fault: FaultWindow, opened: float) -> float | None:
    """First moment at or after the revert the breaker is known closed (the revert itself if closed before)."""
    revert = fault.reverted_at
    if revert is None:
        return None
    states = signals.states(probes, spec.dependency)
    before = signals.state_at(states, revert)
    last_ts = states.ts[states.ts <= revert]
    closed_before = before == CLOSED and len(last_ts) > 0 and last_ts[-1] >= opened
    opens = signals.increases(signals.counter(probes, spec.dependency, CLOSED, OPEN), fault.injected_at)
    closes_counter = signals.counter(probes, spec.dependency, HALF_OPEN, CLOSED)
    closes = signals.increases(closes_counter, fault.injected_at)
    opened_n = float(opens.values[opens.ts <= revert].sum())
    closed_n = float(closes.values[closes.ts <= revert].sum())
    closed_before |= len(closes_counter) > 0 and opened_n > 0 and closed_n >= opened_n
    return _earliest(
        revert if closed_before else None,
        signals.first_state(states, revert, np.inf, frozenset({CLOSED})),
        signals.first_increase(closes_counter, revert, np.inf),
    )


def _flaps(probes: pd.DataFrame, recording: Recording, dependency: str) -> tuple[int, int]:
    opens = signals.increases(signals.counter(probes, dependency, CLOSED, OPEN), recording.started_at)
    by_counter = int(opens.values[opens.ts <= recording.ended_at].sum())
    states = signals.states(probes, dependency)
    return by_counter, signals.exits_from_closed(states, recording.started_at, recording.ended_at)


def _no_opening(state_at_injection: str | None) -> str:
    if state_at_injection in signals.NOT_CLOSED:
        return f"already {state_at_injection} at the injection, and did not open anew while the fault was applied"
    return "never opened while the fault was applied"


def verify(recording: Recording, spec: Breaker) -> Verdict:
    name = f"breaker ({spec.dependency} on {spec.fault})"
    target = f"open ≤ {spec.open_within:g}s, close ≤ {spec.close_within:g}s, flaps ≤ {spec.max_flaps}"

    fault = recording.fault(spec.fault)
    if fault is None:
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="s",
            explanation=f"fault '{spec.fault}' was never applied",
            advice=advice.Advice("fault_not_applied", advice.FAULT_NOT_APPLIED.look.format(fault=spec.fault)),
        )
    probes = recording.probes
    until = fault_end(recording, fault)
    missing = signals.missing_data(probes, spec.dependency)
    if missing is not None:
        unreadable = int((probes["check"] == "metrics").sum())
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="s",
            explanation=missing,
            details={"metrics_unreadable": float(unreadable)},
            advice=Failing.UNMEASURED.advise(dependency=spec.dependency),
            judged=Judged(fault.injected_at, until),
        )
    states = signals.states(probes, spec.dependency)
    opened = signals.first_reaction(probes, spec.dependency, fault.injected_at, until)
    half_opened = _earliest(
        signals.first_increase(
            signals.counter(probes, spec.dependency, OPEN, HALF_OPEN), fault.injected_at, np.inf
        ),
        signals.first_state(states, fault.injected_at, np.inf, frozenset({HALF_OPEN})),
    )
    # Without an opening, closing is still reported (the open sub-condition already failed).
    closed = _closed_at(probes, spec, fault, opened if opened is not None else fault.injected_at)
    by_counter, by_states = _flaps(probes, recording, spec.dependency)
    flaps = max(by_counter, by_states)

    open_s = None if opened is None else opened - fault.injected_at
    half_s = None if half_opened is None else half_opened - fault.injected_at
    close_s = None if closed is None or fault.reverted_at is None else max(0.0, closed - fault.reverted_at)
    parts: list[tuple[str, bool, str]] = [
        (
            "open",
            open_s is not None and open_s <= spec.open_within,
            _no_opening(signals.state_at(states, fault.injected_at))
            if open_s is None
            else f"opened {open_s:.2f}s after injection (≤ {spec.open_within:g}s)",
        ),
    ]
    if spec.half_open_after:
        parts.append(
            (
                "half_open",
                half_s is not None,
                "never half-opened" if half_s is None else f"half-opened {half_s:.2f}s after injection",
            )
        )
    if fault.reverted_at is None:
        close_text = "fault never reverted, so closing cannot be judged"
    elif close_s is None:
        close_text = "never closed after the revert"
    else:
        close_text = f"closed {close_s:.2f}s after revert (≤ {spec.close_within:g}s)"
    parts.append(("close", close_s is not None and close_s <= spec.close_within, close_text))
    parts.append(("flaps", flaps <= spec.max_flaps, f"{flaps} closed>open over the run (≤ {spec.max_flaps})"))
    failed = [label for label, ok, _ in parts if not ok]
    body = "; ".join(f"{'✓' if ok else '✗'} {text}" for _, ok, text in parts)
    explanation = ("failed: " + ", ".join(failed) + " — " if failed else "") + body
    details: dict[str, float | str | None] = {
        "open_after_s": open_s,
        "half_open_after_s": half_s,
        "close_after_revert_s": close_s,
        "flaps": float(flaps),
        "flaps_counter": float(by_counter),
        "flaps_states": float(by_states),
        "failed": ", ".join(failed),
    }
    way = _first_way(failed, open_s, close_s, fault.reverted_at is not None)
    facts = {
        "dependency": spec.dependency,
        "fault": spec.fault,
        "open": open_s,
        "open_within": spec.open_within,
        "close": close_s,
        "close_within": spec.close_within,
        "flaps": flaps,
        "max_flaps": spec.max_flaps,
    }
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=not failed,
        measured=open_s,
        target=target,
        unit="s",
        explanation=explanation,
        details=details,
        advice=None if way is None else way.advise(**facts),
        # The breaker is judged from the injection until it closed (or the run ended).
        judged=Judged(fault.injected_at, recording.ended_at),
    )


def data_needs(seen: Observed) -> Supported:
    """What this verifier needs of the target's data (``mlchaos target check``)."""
    if seen.breakers:
        return Support.YES, f"breakers read: {', '.join(seen.breakers)}"
    return Support.NO, "no breaker signal read (signals.breakers or signals.transitions)"


VERIFIER = Verifier(Breaker, verify, needs=data_needs, ways=Failing)
