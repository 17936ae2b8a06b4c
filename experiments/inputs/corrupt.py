"""Corrupted requests (``corrupted_inputs``): clean requests corrupted by one of the fault's mutators each, drawn
per request, and tagged ``corrupt:<mutator>`` with what the service's input contract expects of them. The
mutations themselves are :mod:`~mlchaos.experiments.inputs.mutators`'s catalogue."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import Field

from mlchaos.experiments.inputs import mutators
from mlchaos.experiments.inputs.contract import InputContract
from mlchaos.experiments.inputs.mutators import Mutator
from mlchaos.experiments.inputs.outgoing import Outgoing
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.inputs.send import DECLARE, Problem, Send, UserInputs, known


class CorruptSend(Send):
    """Clean requests corrupted by one of ``mutators`` each (drawn per request), each tagged with what the
    service's input ``contract`` expects of it."""

    kind: Literal["corrupt"] = "corrupt"
    mutators: tuple[Mutator, ...] = Field(min_length=1)
    field: str | None = Field(
        None,
        min_length=1,
        description="The feature (path) that field-level mutators (null, NaN, ±Inf, wrong type, out of range, "
        "missing, renamed, deeply nested) corrupt; default: the first numeric feature of the request schema.",
    )
    oversize_bytes: int | None = Field(
        None,
        ge=1,
        description="Size of the body `oversized` sends (valid JSON padded with whitespace); default: 1 KiB "
        "past the contract's max_body_bytes, or 1.1 MB without one.",
    )
    contract: InputContract = Field(
        default_factory=InputContract, description="The service's input contract: what each mutation expects."
    )
    nest_depth: int = Field(
        5_000, ge=2, description="Depth of the nested arrays `deeply_nested` puts in the field."
    )

    def describe(self) -> str:
        return "corrupted: " + ", ".join(m.value for m in self.mutators)

    def make(self, raw: bytes, user: UserInputs) -> Outgoing:
        return mutators.mutate(user.rng.choice(self.mutators), json.loads(raw), self, user.schema)

    def problems(self, schema: RequestSchema) -> list[Problem]:
        """An unknown ``field``, out_of_range on a field that is no number, or no feature to corrupt at all."""
        if self.field is not None and self.field not in schema.features:
            message = (
                f"'{self.field}' is not a feature of the request ({known(schema)}); "
                f"name one of them, or {DECLARE}"
            )
            return [(("field",), message)]
        needs_field = mutators.FIELD_MUTATORS | {Mutator.CONTROL_CHARS}
        field = mutators.corrupted_field(self, schema)
        if field is None and needs_field.intersection(self.mutators):
            wanted = ", ".join(m.value for m in self.mutators if m in needs_field)
            message = (
                f"{wanted} corrupt a feature, and no feature of the request is known: set `field`, or declare "
                "request.features in the target (or give the load a dataset to infer them from)"
            )
            return [(("mutators",), message)]
        feature = schema.features.get(field) if field is not None else None
        if Mutator.OUT_OF_RANGE in self.mutators and feature is not None and not feature.numeric:
            message = (
                f"out_of_range needs a numeric field, and '{field}' is {feature.type.value} ({known(schema)}): "
                "set `field` to a number or integer feature, or leave out_of_range out"
            )
            return [(("mutators", self.mutators.index(Mutator.OUT_OF_RANGE)), message)]
        return []
