"""``drift_detected_within``: the target's own drift monitor raises its alarm soon after the inputs shift.

Read from the prober's samples of the signals the target declares (``signals.drift``, from its ``/metrics`` or
through PromQL): ``drift:alarm``, the alarm gauge, 1/0, and ``drift:alarms_total``, the counter of alarm onsets.
The alarm *fires* at the first sample at or after the onset of fault ``fault`` (its injection) that shows

- the gauge at 1 after a sample at 0 (or as the very first sample: nothing showed it off before), or
- the onset counter above its last value before the onset (so an alarm shorter than a sampling interval counts).

An alarm already raised before the onset that simply stays on is not a detection of this shift. The verdict holds
when the alarm fires within ``within`` seconds of the onset, and the alarm was quiet during the baseline (a monitor
that is always alarmed detects nothing) unless ``allow_baseline_alarm``. It fails, saying which, when the target
declares no drift signals or they could not be read. Measured: seconds from onset to the alarm (detection is
searched until the end of the run, so a late alarm is still reported).
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import Field

from mlchaos.experiments.durations import PositiveSeconds
from mlchaos.experiments.verifiers import advice, needs
from mlchaos.experiments.verifiers.advice import Way, WaysOfFailing
from mlchaos.experiments.verifiers.base import (
    Judged,
    OutcomeTable,
    Phase,
    Recording,
    Verdict,
    Verifier,
    VerifierSpec,
)
from mlchaos.experiments.verifiers.needs import Observed, Support, Supported
from mlchaos.experiments.verifiers.phases import fault_not_applied

ALARM = "drift:alarm"
ONSETS = "drift:alarms_total"


class Failing(WaysOfFailing):
    FAULT_NOT_APPLIED = advice.FAULT_NOT_APPLIED
    UNMEASURED = Way(
        "no drift signal was read",
        "the measurement, not the monitor: no sample of the drift alarm was read — declare it in the target's "
        "signals.drift (alarm gauge and/or onset counter) and check that its metrics can be read",
    )
    NEVER_FIRED = Way(
        "the drift alarm never fired",
        "the drift monitor never fired after '{fault}' shifted the inputs: it misses this shift — its reference "
        "window, threshold or watched features do not cover it, or it does not run on live traffic",
    )
    LATE = Way(
        "the drift alarm fired too late",
        "the drift alarm fired {delay}s after the shift (≤ {within}s wanted): the monitor's evaluation window or "
        "interval is longer than that — evaluate more often, on a shorter window",
    )
    FALSE_ALARM = Way(
        "the drift alarm was already on in the baseline",
        "the drift alarm was already raised before the shift: it fires on normal traffic, so it tells nothing — "
        "its reference distribution is stale or its threshold too low",
    )


class DriftDetectedWithin(VerifierSpec):
    type: Literal["drift_detected_within"]
    fault: str = Field(description="Id of the distribution-shift fault whose onset starts the clock.")
    within: PositiveSeconds = Field(
        description="Longest acceptable time from the shift's onset to the alarm."
    )
    allow_baseline_alarm: bool = Field(
        False, description="Accept an alarm already raised during the baseline."
    )


def _gauge_rises(probes: pd.DataFrame) -> pd.Series:
    """Timestamps of the gauge's 0 → 1 edges (a first sample at 1 counts as one)."""
    gauge = probes[probes["check"] == ALARM].sort_values("ts", kind="stable")
    on = pd.to_numeric(gauge["number"], errors="coerce").fillna(0).to_numpy() >= 1
    previous = pd.Series(on).shift(1, fill_value=False).to_numpy()
    ts: pd.Series = gauge["ts"][on & ~previous]
    return ts


def _counter_rises(probes: pd.DataFrame, since: float) -> pd.Series:
    """Timestamps (≥ ``since``) of samples where the onset counter is above its last value before ``since``."""
    counter = probes[probes["check"] == ONSETS].sort_values("ts", kind="stable")
    before = counter[counter["ts"] < since]
    after = counter[counter["ts"] >= since]
    if after.empty:
        return after["ts"]
    reference = float(before["number"].iloc[-1]) if not before.empty else float(after["number"].iloc[0])
    ts: pd.Series = after["ts"][after["number"].astype(float) > reference]
    return ts


def _baseline_alarms(recording: Recording, onset: float) -> tuple[int, int]:
    """(samples showing the gauge at 1, onsets the counter shows) during the baseline (before the onset)."""
    window = recording.phase(Phase.BASELINE)
    start, end = (window.start, window.end) if window else (recording.started_at, onset)
    probes = recording.probes
    inside = probes[(probes["ts"] >= start) & (probes["ts"] < min(end, onset))]
    gauge = pd.to_numeric(inside.loc[inside["check"] == ALARM, "number"], errors="coerce")
    counter = inside.loc[inside["check"] == ONSETS, "number"].astype(float)
    onsets = float(counter.max() - counter.min()) if len(counter) else 0.0
    return int((gauge >= 1).sum()), int(onsets)


def _no_drift_data(probes: pd.DataFrame) -> str:
    """Why there is no drift sample: the declaration is missing, or its samples could not be read."""
    checks = probes["check"].astype(str)
    failed = probes[checks.str.startswith("signal:drift.") & probes["error"].notna()]
    unreadable = probes[(checks == "metrics") & probes["error"].notna()]
    if not failed.empty:
        why = f"the drift alarm could not be read ({len(failed)} samples; first: {failed['error'].iloc[0]})"
    elif not unreadable.empty:
        why = (
            f"no drift samples: the target declares no drift signals (signals.drift.alarm or "
            f"signals.drift.onsets), or its /metrics could not be read ({len(unreadable)} samples; first: "
            f"{unreadable['error'].iloc[0]})"
        )
    else:
        why = "the target declares no drift signals (signals.drift.alarm or signals.drift.onsets)"
    return why + ": nothing can show it detected the shift"


def verify(recording: Recording, spec: DriftDetectedWithin) -> Verdict:
    name = f"drift_detected_within ({spec.fault})"
    target = f"≤ {spec.within:g}s"
    fault = recording.fault(spec.fault)
    if fault is None:
        return fault_not_applied(spec.type, name, target, "s", spec.fault)
    probes = recording.probes
    drift = probes[probes["check"].isin([ALARM, ONSETS])]
    if drift.empty:
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="s",
            explanation=_no_drift_data(probes),
            advice=Failing.UNMEASURED.advise(),
        )
    onset = fault.injected_at
    rises = _gauge_rises(probes)
    signals = {
        "alarm gauge 0 → 1": rises[rises >= onset].min(),
        "onset counter rose": _counter_rises(probes, onset).min(),
    }
    candidates = [float(t) for t in signals.values() if pd.notna(t)]
    table = OutcomeTable(
        "Drift alarm signals after the shift's onset",
        ("signal", "first seen after onset (s)"),
        tuple((signal, None if pd.isna(t) else float(t) - onset) for signal, t in signals.items()),
    )
    on_samples, onsets = _baseline_alarms(recording, onset)
    false_alarm = (on_samples or onsets) > 0 and not spec.allow_baseline_alarm
    details: dict[str, float | str | None] = {
        "drift_samples": float(len(drift)),
        "baseline_alarm_samples": float(on_samples),
        "baseline_alarm_onsets": float(onsets),
    }
    seen = f"on in {on_samples} samples, {onsets} onset{'' if onsets == 1 else 's'}"
    baseline_note = (
        f"; ✗ the alarm was already raised during the baseline ({seen}): a false alarm"
        if false_alarm
        else (f"; alarm during the baseline allowed ({seen})" if on_samples or onsets else "")
    )
    if not candidates:
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="s",
            explanation=f"the drift alarm never fired after '{spec.fault}' began ({len(drift)} drift samples)"
            + baseline_note,
            details=details,
            table=table,
            advice=Failing.NEVER_FIRED.advise(fault=spec.fault),
            judged=Judged(onset, recording.ended_at),
        )
    delay = min(candidates) - onset
    details["alarm_after_s"] = delay
    in_time = delay <= spec.within
    explanation = (
        f"drift alarm fired {delay:.1f}s after '{spec.fault}' began — {'within' if in_time else 'over'} "
        f"{spec.within:g}s" + baseline_note
    )
    way = Failing.LATE if not in_time else Failing.FALSE_ALARM
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=in_time and not false_alarm,
        measured=delay,
        target=target,
        unit="s",
        explanation=explanation,
        details=details,
        table=table,
        advice=None
        if in_time and not false_alarm
        else way.advise(delay=delay, within=spec.within, fault=spec.fault),
        judged=Judged(onset, recording.ended_at),
    )


def data_needs(seen: Observed) -> Supported:
    """What this verifier needs of the target's data (``mlchaos target check``)."""
    if seen.drift:
        return needs.OK
    return Support.NO, "no drift signal read (signals.drift.alarm or signals.drift.onsets)"


VERIFIER = Verifier(DriftDetectedWithin, verify, needs=data_needs, ways=Failing)
