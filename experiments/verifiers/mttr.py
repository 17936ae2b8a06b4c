"""``mttr``: mean time to recovery of one fault, as design.md defines it.

From the fault's injection (faults the system heals by itself, e.g. ``pod_kill``) or its revert (faults it cannot
heal alone, e.g. a feature store that stays down) to the start of the first window of ``window`` consecutive
seconds in which the scenario's steady state holds again. Undefined — and failed — if that never happens before
the run ends. ``from`` overrides which reference point is used.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlchaos.experiments.durations import PositiveSeconds
from mlchaos.experiments.verifiers.base import Recording, Verdict, VerifierSpec
from mlchaos.experiments.verifiers.phases import fault_not_applied
from mlchaos.experiments.verifiers.steady_state import first_sustained_hold


class Mttr(VerifierSpec):
    type: Literal["mttr"]
    fault: str
    max: PositiveSeconds = Field(description="Largest acceptable MTTR.")
    window: PositiveSeconds = Field(
        3.0, description="How long the steady state must hold to count as recovered."
    )
    from_: Literal["auto", "inject", "revert"] = Field("auto", alias="from")


def verify(recording: Recording, spec: Mttr) -> Verdict:
    steady_state = recording.steady_state
    name = f"mttr ({spec.fault})"
    target = f"≤ {spec.max:g}s"
    fault = recording.fault(spec.fault)
    if fault is None:
        return fault_not_applied("mttr", name, target, "s", spec.fault)
    reference = spec.from_
    if reference == "auto":
        reference = "inject" if fault.heals_itself else "revert"
    since = fault.injected_at if reference == "inject" else fault.reverted_at
    if since is None:
        return Verdict("mttr", name, False, None, target, "s", f"fault '{spec.fault}' was never reverted")
    recovered = first_sustained_hold(steady_state, recording.requests, since, recording.ended_at, spec.window)
    if recovered is None:
        return Verdict(
            "mttr",
            name,
            False,
            None,
            target,
            "s",
            f"steady state ({steady_state.describe()}) never held for {spec.window:g}s after the "
            f"{reference} before the run ended",
        )
    mttr = max(0.0, recovered - since)
    passed = mttr <= spec.max
    explanation = (
        f"steady state held again for {spec.window:g}s from {mttr:.2f}s after the {reference}"
        f" — {'within' if passed else 'over'} {spec.max:g}s"
    )
    return Verdict("mttr", name, passed, mttr, target, "s", explanation, {"from": reference})
