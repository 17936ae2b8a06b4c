"""``metamorphic``: seed 000's behavioural tests under load. A share of the requests become pairs — a clean
request and a transformation of it with a declared effect (must not change the prediction, or must move the
score one way), sent back to back by one user and tagged ``metamorphic:<transformation>`` with one ``pair`` id
(see :mod:`mlchaos.experiments.inputs.metamorphic`).

The window is programmed into the load before it starts; ``inject``/``revert`` only mark it in the journal.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlchaos.experiments.inputs.windows import MetamorphicSend, Transformation
from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.injectors.base import FaultPlan, InputFaultSpec, Undo


class Metamorphic(InputFaultSpec):
    type: Literal["metamorphic"]
    transformations: tuple[Transformation, ...] = Field(
        tuple(Transformation), min_length=1, description="Which transformations to test; default: all."
    )


class MetamorphicUndo(Undo):
    service_url: str


class MetamorphicInjector:
    kind = "metamorphic"
    spec = Metamorphic
    undo = MetamorphicUndo

    def plan(self, spec: Metamorphic, target: TargetEndpoints) -> FaultPlan[MetamorphicUndo]:
        names = ", ".join(f"{t.value} ({t.relation.value})" for t in spec.transformations)
        return FaultPlan(
            touches=(
                f"the requests sent to {target.service_url} ({spec.share:.0%} become metamorphic pairs)",
            ),
            description=f"send {spec.share:.0%} of the requests as metamorphic pairs for {spec.duration:g}s: {names}",
            undo=MetamorphicUndo(service_url=target.service_url),
            inputs=MetamorphicSend(transformations=spec.transformations),
            share=spec.share,
        )

    def check(self, undo: MetamorphicUndo) -> None:
        """Nothing to check on the target: the load generator is the harness's own."""

    def inject(self, spec: Metamorphic, undo: MetamorphicUndo) -> None:
        """The window is already programmed into the load; the journal entry marks its start."""

    def revert(self, undo: MetamorphicUndo) -> None:
        """The window closes by itself; there is nothing on the target to undo."""


INJECTOR = MetamorphicInjector()
