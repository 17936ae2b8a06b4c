"""``corrupted_inputs``: a share of the requests in the window arrive corrupted — NaN, ±Inf, nulls, wrong types,
outliers, missing / unknown / renamed fields, empty, malformed, truncated, oversized or deeply nested bodies,
control characters, a wrong content type (the catalogue: :mod:`mlchaos.experiments.inputs.mutators`).

Like ``traffic_spike`` this fault acts on the traffic: the engine programs the window into the load before it
starts and the load child corrupts each drawn request itself, tagging its record ``corrupt:<mutator>``.
``inject`` and ``revert`` change nothing on the target; the journal marks when the window opened and closed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlchaos.experiments.inputs.windows import CorruptSend, Mutator
from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.injectors.base import FaultPlan, InputFaultSpec, Undo


class CorruptedInputs(InputFaultSpec):
    type: Literal["corrupted_inputs"]
    mutators: tuple[Mutator, ...] = Field(
        tuple(Mutator),
        min_length=1,
        description="Which corruptions to send, drawn per request; default: all.",
    )
    field: str = Field("amount", min_length=1, description="The field that field-level mutators corrupt.")
    oversize_bytes: int = Field(1_100_000, ge=1, le=64_000_000)
    nest_depth: int = Field(5_000, ge=2, le=1_000_000)


class CorruptedInputsUndo(Undo):
    service_url: str


class CorruptedInputsInjector:
    kind = "corrupted_inputs"
    spec = CorruptedInputs
    undo = CorruptedInputsUndo

    def plan(self, spec: CorruptedInputs, target: TargetEndpoints) -> FaultPlan[CorruptedInputsUndo]:
        names = ", ".join(m.value for m in spec.mutators)
        return FaultPlan(
            touches=(f"the requests sent to {target.service_url} ({spec.share:.0%} corrupted: {names})",),
            description=f"corrupt {spec.share:.0%} of the requests for {spec.duration:g}s ({names})",
            undo=CorruptedInputsUndo(service_url=target.service_url),
            inputs=CorruptSend(
                mutators=spec.mutators,
                field=spec.field,
                oversize_bytes=spec.oversize_bytes,
                nest_depth=spec.nest_depth,
            ),
            share=spec.share,
        )

    def check(self, undo: CorruptedInputsUndo) -> None:
        """Nothing to check on the target: the load generator is the harness's own."""

    def inject(self, spec: CorruptedInputs, undo: CorruptedInputsUndo) -> None:
        """The window is already programmed into the load; the journal entry marks its start."""

    def revert(self, undo: CorruptedInputsUndo) -> None:
        """The window closes by itself; there is nothing on the target to undo."""


INJECTOR = CorruptedInputsInjector()
