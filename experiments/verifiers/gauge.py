"""``gauge``: a number the target declares (``signals.gauges``) stays within bounds over a phase or a fault.

The prober samples each declared gauge every round and records it as ``gauge:<name>`` with its ``number``
(:mod:`~mlchaos.experiments.signal_mapping`). Selected: the samples of ``gauge:<name>`` with a number (not NaN)
whose ``ts`` lies in the window — the phase ``phase`` (default ``run``: the baseline's start to the run's end), or,
with ``fault``, that fault's window from its injection to its revert (the end of the run if never reverted).
Measured: ``statistic`` over them — ``max`` (default), ``min``, ``mean`` or ``last`` (the latest sample). The
verdict holds when the measured value is ≤ ``max`` and ≥ ``min`` (either or both).

Nothing selected — the target does not declare the gauge (``validate`` refuses such a name, at its line), every
reading of it failed (their errors are named), the service's metrics could not be read at all, or the run never
reached the window — fails with nothing measured: a gauge never seen is never within bounds. Failed readings
beside good ones are counted in the explanation and ``details`` (a bound checked on some samples only).
"""

from __future__ import annotations

from typing import Literal, Self

import pandas as pd
from pydantic import Field, model_validator

from mlchaos.experiments.service_declaration import ServiceDeclaration
from mlchaos.experiments.signals import SignalName
from mlchaos.experiments.verifiers import advice
from mlchaos.experiments.verifiers.advice import Way, WaysOfFailing
from mlchaos.experiments.verifiers.base import Judged, Phase, Recording, Verdict, Verifier, VerifierSpec
from mlchaos.experiments.verifiers.needs import Observed, Support, Supported
from mlchaos.experiments.verifiers.phases import PhaseOrRun, fault_end, fault_not_applied
from mlchaos.experiments.verifiers.tiers import Loc

Statistic = Literal["max", "min", "mean", "last"]


class Failing(WaysOfFailing):
    FAULT_NOT_APPLIED = advice.FAULT_NOT_APPLIED
    UNMEASURED = Way(
        "the gauge was never read in the window",
        "the measurement, not the service: gauge '{name}' has no readable sample in {scope} — check its "
        "declaration in the target's signals.gauges, that its metrics endpoint answers (the error is in the "
        "explanation), and that the run reached the window",
    )
    ABOVE_MAX = Way(
        "the gauge rose above its bound",
        "'{name}' reached {measured} ({statistic}) in {scope}, above {max}: what it counts builds up faster than "
        "it drains while the fault is on — look at what consumes it (workers, timeouts on the calls that hold it)",
    )
    BELOW_MIN = Way(
        "the gauge fell below its bound",
        "'{name}' fell to {measured} ({statistic}) in {scope}, below {min}: what it measures ran out or stopped "
        "being reported during {scope} — look at what replenishes it, and whether the exporter kept running",
    )


class Gauge(VerifierSpec):
    type: Literal["gauge"]
    name: SignalName = Field(description="The gauge's name, as the target declares it in signals.gauges.")
    phase: PhaseOrRun | None = Field(None, description="The phase judged; default run (the whole run).")
    fault: str | None = Field(
        None, description="Id of a fault: judge its window (injection to revert) instead of a phase."
    )
    statistic: Statistic = Field("max", description="What is held to the bounds: max, min, mean or last.")
    max: float | None = Field(
        None, allow_inf_nan=False, description="Largest acceptable value of the statistic."
    )
    min: float | None = Field(
        None, allow_inf_nan=False, description="Least acceptable value of the statistic."
    )

    @model_validator(mode="after")
    def _bounds_and_window(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError("give 'max' and/or 'min' (bounds on the gauge's value)")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min:g}) is above 'max' ({self.max:g})")
        if self.fault is not None and self.phase is not None:  # None, not unset: a recorded scenario reloads
            raise ValueError("give 'phase' or 'fault' (that fault's window), not both")
        return self

    def declaration_problems(self, declaration: ServiceDeclaration) -> list[tuple[Loc, str]]:
        declared = declaration.signals.gauges
        if self.name in declared:
            return []
        known = f"the target's gauges are: {', '.join(declared)}" if declared else "the target declares none"
        return [(("name",), f"unknown gauge '{self.name}' (signals.gauges); {known}")]


def _window(recording: Recording, spec: Gauge) -> tuple[float, float] | None:
    """``(start, end)`` of the samples judged; ``None`` if the run never reached it."""
    if spec.fault is not None:
        fault = recording.fault(spec.fault)
        return None if fault is None else (fault.injected_at, fault_end(recording, fault))
    if spec.phase in (None, "run"):
        return recording.started_at, recording.ended_at
    window = recording.phase(Phase(spec.phase))
    return None if window is None else (window.start, window.end)


def _measure(samples: pd.DataFrame, statistic: Statistic) -> float:
    values = samples.sort_values("ts", kind="stable")["number"].astype(float)
    measures = {"max": values.max, "min": values.min, "mean": values.mean, "last": lambda: values.iloc[-1]}
    return float(measures[statistic]())


def _nothing_read(check: str, probes: pd.DataFrame, inside: pd.DataFrame, scope: str) -> str:
    """Why no sample of the gauge has a number in the window: its readings failed, the metrics could not be
    read, it was seen only outside the window, or it is not declared. ``inside``: the window's probes."""
    in_window = inside[inside["check"] == check]
    failed = in_window[in_window["error"].notna()]
    if not failed.empty:
        return (
            f"no {check} sample with a number in {scope}: {len(failed)} of its {len(in_window)} readings "
            f"failed (first: {failed['error'].iloc[0]})"
        )
    if not in_window.empty:
        return f"no {check} sample with a number in {scope}: its {len(in_window)} readings were empty (NaN)"
    metrics = inside[(inside["check"] == "metrics") & inside["error"].notna()]
    if not metrics.empty:
        return (
            f"no {check} samples in {scope}: the service's metrics could not be read ({len(metrics)} samples; "
            f"first: {metrics['error'].iloc[0]})"
        )
    elsewhere = int((probes["check"] == check).sum())
    if elsewhere:
        return f"no {check} samples in {scope} ({elsewhere} outside it)"
    return f"no {check} samples: the target may not declare it in signals.gauges"


def verify(recording: Recording, spec: Gauge) -> Verdict:
    phase = spec.phase or "run"
    scope = f"'{spec.fault}'" if spec.fault is not None else phase
    name = f"gauge {spec.name} ({spec.statistic}, {spec.fault or phase})"
    bounds = (("≥", spec.min), ("≤", spec.max))
    target = " and ".join(f"{sign} {bound:g}" for sign, bound in bounds if bound is not None)
    window = _window(recording, spec)
    if window is None:
        if spec.fault is not None:
            return fault_not_applied(spec.type, name, target, "", spec.fault)
        never = f"the run never reached the {phase} phase"
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="",
            explanation=never,
            advice=Failing.UNMEASURED.advise(name=spec.name, scope=scope),
        )
    judged = Judged(*window)
    check = f"gauge:{spec.name}"
    probes = recording.probes
    inside = probes[(probes["ts"] >= window[0]) & (probes["ts"] < window[1])]
    in_window = inside[inside["check"] == check]
    numbers = pd.to_numeric(in_window["number"], errors="coerce")
    samples = in_window[numbers.notna()]
    failed = len(in_window) - len(samples)
    details: dict[str, float | str | None] = {
        "samples": float(len(samples)),
        "failed_readings": float(failed),
    }
    if samples.empty:
        explanation = _nothing_read(check, probes, inside, scope)
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="",
            explanation=explanation,
            details=details,
            advice=Failing.UNMEASURED.advise(name=spec.name, scope=scope),
            judged=judged,
        )
    value = _measure(samples, spec.statistic)
    passed = (spec.max is None or value <= spec.max) and (spec.min is None or value >= spec.min)
    details.update(min=float(samples["number"].min()), max=float(samples["number"].max()))
    explanation = (
        f"{spec.statistic} of {len(samples)} {check} samples in {scope} is {value:g}"
        f" — {'within' if passed else 'outside'} {target}"
        + (f" ({failed} readings failed or empty, not counted)" if failed else "")
    )
    way = Failing.ABOVE_MAX if spec.max is not None and value > spec.max else Failing.BELOW_MIN
    hint = way.advise(
        name=spec.name, measured=value, statistic=spec.statistic, scope=scope, max=spec.max, min=spec.min
    )
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=passed,
        measured=value,
        target=target,
        unit="",
        explanation=explanation,
        details=details,
        advice=None if passed else hint,
        judged=judged,
    )


def data_needs(seen: Observed) -> Supported:
    """What this verifier needs of the target's data (``mlchaos target check``)."""
    if seen.gauges:
        return Support.YES, f"gauges read: {', '.join(seen.gauges)}"
    return Support.NO, "no gauge read: needs the gauge declared in signals.gauges and readable"


VERIFIER = Verifier(Gauge, verify, needs=data_needs, ways=Failing)
