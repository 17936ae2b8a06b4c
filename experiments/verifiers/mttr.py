"""``mttr``: mean time to recovery of one fault, as docs/glossary.md defines *MTTR*.

From the fault's injection (faults the system heals by itself, e.g. ``pod_kill``) or its revert (faults it cannot
heal alone, e.g. a feature store that stays down) to the start of the first window of ``window`` consecutive
seconds in which the scenario's steady state holds again. Undefined — and failed — if that never happens before
the run ends. ``from`` overrides which reference point is used.

With ``source: readiness`` (Kubernetes targets), "holds again" means instead that the probed ``workload`` has all its
desired replicas ready (its ``workload:<kind>/<name>`` probe samples are ok) for ``window`` consecutive seconds —
recovery as the cluster sees it, for workloads whose traffic mlchaos does not see.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import Field, model_validator

from mlchaos.experiments.durations import PositiveSeconds
from mlchaos.experiments.verifiers import advice, needs
from mlchaos.experiments.verifiers.advice import Way, WaysOfFailing
from mlchaos.experiments.verifiers.base import Judged, Recording, Verdict, Verifier, VerifierSpec
from mlchaos.experiments.verifiers.needs import Observed, Support, Supported
from mlchaos.experiments.verifiers.phases import fault_not_applied
from mlchaos.experiments.verifiers.steady_state import first_sustained_hold


class Failing(WaysOfFailing):
    FAULT_NOT_APPLIED = advice.FAULT_NOT_APPLIED
    UNMEASURED = Way(
        "no reference point or no readiness samples",
        "the measurement: '{fault}' was never reverted (look at the journal and the revert's error), or the "
        "workload's readiness was never sampled (list it under the target's workloads) — the service was not judged",
    )
    NEVER_RECOVERED = Way(
        "the steady state never held again",
        "the service stayed degraded until the end of the run ({reference} + {window}s never held): something "
        "does not come back by itself — a breaker stuck open (its recovery timer, its half-open probe), a process "
        "that was not restarted, a connection pool still holding dead connections; compare the after phase's "
        "tiers and errors with the baseline's",
    )
    SLOW_RECOVERY = Way(
        "recovered, but too late",
        "recovered {measured}s after the {reference} (≤ {max}s wanted): look at the longest wait after it — the "
        "breaker's recovery timeout plus the successes it needs to close, or the restart back-off of the process",
    )


class Mttr(VerifierSpec):
    type: Literal["mttr"]
    fault: str
    max: PositiveSeconds = Field(description="Largest acceptable MTTR.")
    window: PositiveSeconds = Field(
        3.0, description="How long the steady state must hold to count as recovered."
    )
    from_: Literal["auto", "inject", "revert"] = Field("auto", alias="from")
    source: Literal["traffic", "readiness"] = Field(
        "traffic",
        description="What must hold again: the steady state of the traffic, or a workload's readiness.",
    )
    workload: str | None = Field(
        None,
        pattern=r"^(deployment|statefulset)/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="For source: readiness — deployment/NAME or statefulset/NAME, listed in the target's workloads.",
    )

    @model_validator(mode="after")
    def _readiness_names_a_workload(self) -> Mttr:
        if self.source == "readiness" and self.workload is None:
            raise ValueError("source 'readiness' needs 'workload': deployment/NAME or statefulset/NAME")
        return self


def first_ready_window(
    probes: pd.DataFrame, check: str, since: float, until: float, window: float
) -> float | None:
    """Start of the first run of ok ``check`` samples after ``since`` that lasts ``window`` seconds, or None."""
    samples = probes[(probes["check"] == check) & (probes["ts"] >= since) & (probes["ts"] <= until)]
    streak_start: float | None = None
    for ts, ok in zip(samples["ts"], samples["ok"], strict=True):
        if not ok:
            streak_start = None
            continue
        streak_start = ts if streak_start is None else streak_start
        if ts - streak_start >= window:
            return float(streak_start)
    return None


def verify(recording: Recording, spec: Mttr) -> Verdict:
    steady_state = recording.steady_state
    name = f"mttr ({spec.fault})"
    target = f"≤ {spec.max:g}s"
    fault = recording.fault(spec.fault)
    if fault is None:
        return fault_not_applied(spec.type, name, target, "s", spec.fault)
    reference = spec.from_
    if reference == "auto":
        reference = "inject" if fault.heals_itself else "revert"
    since = fault.injected_at if reference == "inject" else fault.reverted_at
    if since is None:
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="s",
            explanation=f"fault '{spec.fault}' was never reverted",
            advice=Failing.UNMEASURED.advise(fault=spec.fault),
            judged=Judged(fault.injected_at, recording.ended_at),
        )
    if spec.source == "readiness":
        return _from_readiness(recording, spec, name, target, reference, since)
    recovered = first_sustained_hold(steady_state, recording.requests, since, recording.ended_at, spec.window)
    if recovered is None:
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="s",
            explanation=f"steady state ({steady_state.describe()}) never held for {spec.window:g}s after the "
            f"{reference} before the run ended",
            advice=Failing.NEVER_RECOVERED.advise(reference=reference, window=spec.window),
            judged=Judged(fault.injected_at, recording.ended_at),
        )
    mttr = max(0.0, recovered - since)
    passed = mttr <= spec.max
    explanation = (
        f"steady state held again for {spec.window:g}s from {mttr:.2f}s after the {reference}"
        f" — {'within' if passed else 'over'} {spec.max:g}s"
    )
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=passed,
        measured=mttr,
        target=target,
        unit="s",
        explanation=explanation,
        details={"from": reference},
        advice=None
        if passed
        else Failing.SLOW_RECOVERY.advise(measured=mttr, reference=reference, max=spec.max),
        judged=Judged(fault.injected_at, recording.ended_at),
    )


def _from_readiness(
    recording: Recording, spec: Mttr, name: str, target: str, reference: str, since: float
) -> Verdict:
    check = f"workload:{spec.workload}"
    if not (recording.probes["check"] == check).any():
        why = f"no readiness samples of {spec.workload}: list it under the kubernetes target's workloads"
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="s",
            explanation=why,
            advice=Failing.UNMEASURED.advise(fault=spec.fault),
        )
    recovered = first_ready_window(recording.probes, check, since, recording.ended_at, spec.window)
    if recovered is None:
        why = (
            f"{spec.workload} never had all its replicas ready for {spec.window:g}s after the {reference} "
            "before the run ended"
        )
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="s",
            explanation=why,
            advice=Failing.NEVER_RECOVERED.advise(reference=reference, window=spec.window),
        )
    mttr = max(0.0, recovered - since)
    passed = mttr <= spec.max
    explanation = (
        f"{spec.workload} had all its replicas ready again for {spec.window:g}s from {mttr:.2f}s after the "
        f"{reference} — {'within' if passed else 'over'} {spec.max:g}s"
    )
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=passed,
        measured=mttr,
        target=target,
        unit="s",
        explanation=explanation,
        details={"from": reference, "source": "readiness"},
        advice=None
        if passed
        else Failing.SLOW_RECOVERY.advise(measured=mttr, reference=reference, max=spec.max),
    )


def data_needs(seen: Observed) -> Supported:
    """What this verifier needs of the target's data (``mlchaos target check``)."""
    if seen.answered or seen.workloads:
        return needs.steady_state(seen) if seen.answered else (Support.LIMITED, "source: readiness only")
    return Support.NO, needs.NO_ANSWERS


VERIFIER = Verifier(Mttr, verify, needs=data_needs, ways=Failing)
