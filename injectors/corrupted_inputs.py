"""``corrupted_inputs``: a share of the requests in the window arrive corrupted — NaN, ±Inf, nulls, wrong types,
outliers, missing / unknown / renamed fields, empty, malformed, truncated, oversized or deeply nested bodies,
control characters, a wrong content type (the catalogue: :mod:`mlchaos.experiments.inputs.mutators`).

This fault acts on request contents: the engine programs the window into the load before it
starts and the load child corrupts each drawn request itself, tagging its record ``corrupt:<mutator>``.
``inject`` and ``revert`` change nothing on the target; the journal marks when the window opened and closed.

What is sent is :class:`~mlchaos.experiments.inputs.corrupt.CorruptSend`'s (its ``sends``). The mutations are
built from the service's request schema (the field-level ones corrupt ``field``, by default its
first numeric feature), and each corrupted request is tagged with what the target's ``input_contract`` expects of
it — rejected, accepted (an extra field a lenient service ignores) or either — which ``bad_input_handling`` judges.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlchaos.experiments.inputs.contract import InputContract
from mlchaos.experiments.inputs.corrupt import CorruptSend
from mlchaos.experiments.inputs.mutators import Mutator
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.targets import ResponseFields, TargetEndpoints
from mlchaos.injectors.base import FaultPlan, InputFaultSpec, OnRequests, Undo


class CorruptedInputs(InputFaultSpec):
    type: Literal["corrupted_inputs"]
    mutators: tuple[Mutator, ...] = Field(
        tuple(Mutator),
        min_length=1,
        description="Which corruptions to send, drawn per request; default: all.",
    )
    field: str | None = Field(
        None,
        min_length=1,
        description="The feature (path, e.g. txn.price) that field-level mutators corrupt; default: the first "
        "numeric feature of the service's request schema.",
    )
    oversize_bytes: int | None = Field(
        None,
        ge=1,
        le=64_000_000,
        description="Size of the `oversized` body; default: 1 KiB past the input contract's max_body_bytes, or "
        "1.1 MB when it declares none.",
    )
    nest_depth: int = Field(5_000, ge=2, le=1_000_000)

    def send(self, contract: InputContract) -> CorruptSend:
        return CorruptSend(
            mutators=self.mutators,
            field=self.field,
            oversize_bytes=self.oversize_bytes,
            nest_depth=self.nest_depth,
            contract=contract,
        )

    def service_problems(
        self, response: ResponseFields, schema: RequestSchema | None
    ) -> list[tuple[tuple[int | str, ...], str]]:
        """An unknown ``field``, out_of_range on a field that is no number, or no feature to corrupt at all."""
        return [] if schema is None else self.send(InputContract()).problems(schema)


class CorruptedInputsUndo(Undo):
    service_url: str


class CorruptedInputsInjector:
    spec = CorruptedInputs
    undo = CorruptedInputsUndo
    sends = (CorruptSend,)

    def plan(self, spec: CorruptedInputs, target: TargetEndpoints) -> FaultPlan[CorruptedInputsUndo]:
        names = ", ".join(m.value for m in spec.mutators)
        field = f"; field-level ones in {spec.field}" if spec.field else ""
        return FaultPlan(
            touches=(f"the requests sent to {target.service_url} ({spec.share:.0%} corrupted: {names})",),
            description=f"corrupt {spec.share:.0%} of the requests for {spec.duration:g}s ({names}{field})",
            undo=CorruptedInputsUndo(service_url=target.service_url),
            acts_on=OnRequests(share=spec.share, send=spec.send(target.input_contract)),
        )

    def check(self, undo: CorruptedInputsUndo) -> None:
        """Nothing to check on the target: the load generator is the harness's own."""

    def inject(self, spec: CorruptedInputs, undo: CorruptedInputsUndo) -> None:
        """The window is already programmed into the load; the journal entry marks its start."""

    def revert(self, undo: CorruptedInputsUndo) -> None:
        """The window closes by itself; there is nothing on the target to undo."""


INJECTOR = CorruptedInputsInjector()
