"""``metamorphic``: metamorphic relations (docs/glossary.md) under load. A share of the requests become pairs — a clean
request and its transformation by one of the scenario's declared ``relations`` (the answer must stay the same, or
the score must move one way), sent back to back by one user and tagged ``metamorphic:<relation name>`` with one
``pair`` id (see :mod:`mlchaos.experiments.inputs.relations` for the operations and
:mod:`mlchaos.experiments.inputs.metamorphic` for how they are applied).

The window is programmed into the load before it starts; ``inject``/``revert`` only mark it in the journal.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mlchaos.experiments.inputs.metamorphic import MetamorphicSend
from mlchaos.experiments.inputs.relations import Relation, relation_problems
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.targets import ResponseFields, TargetEndpoints
from mlchaos.injectors.base import FaultPlan, InputFaultSpec, OnRequests, TargetMisconfigured, Undo


class Metamorphic(InputFaultSpec):
    type: Literal["metamorphic"]
    relations: tuple[Relation, ...] = Field(
        min_length=1,
        description="The relations to test, each `name`, `operation` (reorder_keys, pretty_print, as_float, "
        "add, multiply, set) with its field and values, and `expect` (same, higher, lower).",
    )

    @field_validator("relations")
    @classmethod
    def _unique_names(cls, relations: tuple[Relation, ...]) -> tuple[Relation, ...]:
        names = [relation.name for relation in relations]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(
                f"each relation name once (it tags the pair's requests); repeated: {', '.join(repeated)}"
            )
        return relations

    def service_problems(
        self, response: ResponseFields, schema: RequestSchema | None
    ) -> list[tuple[tuple[int | str, ...], str]]:
        features = schema.features if schema is not None else {}
        found = relation_problems(self.relations, features=features, score_field=response.score)
        return [(("relations", problem.index, problem.key), problem.message) for problem in found]


class MetamorphicUndo(Undo):
    service_url: str


class MetamorphicInjector:
    spec = Metamorphic
    undo = MetamorphicUndo
    sends = (MetamorphicSend,)

    def plan(self, spec: Metamorphic, target: TargetEndpoints) -> FaultPlan[MetamorphicUndo]:
        """Refuses relations the target cannot judge (``higher``/``lower`` without a score field), and — when the
        target declares its whole schema — relations on a feature it does not have. A schema completed from the
        dataset or an OpenAPI spec is checked when the scenario is loaded and again once the run has resolved it
        (:meth:`Metamorphic.service_problems`)."""
        request = target.request
        complete = not request.infer_from_dataset and request.openapi is None
        problems = relation_problems(
            spec.relations,
            features=request.features if complete else {},
            score_field=target.response.score,
        )
        if problems:
            raise TargetMisconfigured(f"fault '{spec.id}': " + "; ".join(p.message for p in problems))
        names = ", ".join(f"{r.name} ({r.expect.value})" for r in spec.relations)
        return FaultPlan(
            touches=(
                f"the requests sent to {target.service_url} ({spec.share:.0%} become metamorphic pairs)",
            ),
            description=f"send {spec.share:.0%} of the requests as metamorphic pairs for {spec.duration:g}s: {names}",
            undo=MetamorphicUndo(service_url=target.service_url),
            acts_on=OnRequests(share=spec.share, send=MetamorphicSend(relations=spec.relations)),
        )

    def check(self, undo: MetamorphicUndo) -> None:
        """Nothing to check on the target: the load generator is the harness's own."""

    def inject(self, spec: Metamorphic, undo: MetamorphicUndo) -> None:
        """The window is already programmed into the load; the journal entry marks its start."""

    def revert(self, undo: MetamorphicUndo) -> None:
        """The window closes by itself; there is nothing on the target to undo."""


INJECTOR = MetamorphicInjector()
