"""``shouting_inputs``: a share of the requests in the window carry one text feature upper-cased (``"U0203"`` for
``"u0203"``) — what a client with a broken locale or a legacy upstream sends. A robust service answers them as it
answers the originals, or refuses them; it must not fail.

An input fault (it acts on request contents), all in this module: the scenario model (``ShoutingInputs``), what
is sent (``ShoutingSend``, the one kind of input it registers through its injector's ``sends``), how a request is
made from a clean one (``ShoutingSend.make``, run by the load child for each drawn request) and what it needs of the
service's request schema (``ShoutingSend.problems``). Each request made is tagged ``shouting:upper``.
``inject`` and ``revert`` change nothing on the target: the window is programmed into the load.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import Field

from mlchaos.experiments.inputs.outgoing import Outgoing, encode
from mlchaos.experiments.inputs.paths import get_path, put_path
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.inputs.send import Problem, Send, UserInputs
from mlchaos.experiments.targets import ResponseFields, TargetEndpoints
from mlchaos.injectors.base import FaultPlan, InputFaultSpec, OnRequests, Undo

TAG = "shouting:upper"


class ShoutingSend(Send):
    """Clean requests with one text feature upper-cased."""

    kind: Literal["shouting"] = "shouting"
    field: str | None = Field(None, description="The text feature; default: the schema's first one.")

    def describe(self) -> str:
        return f"{self.field or 'the first text feature'} upper-cased"

    def text_field(self, schema: RequestSchema) -> str | None:
        return self.field or next((path for path, f in schema.features.items() if f.textual), None)

    def problems(self, schema: RequestSchema) -> list[Problem]:
        field = self.text_field(schema)
        feature = schema.features.get(field) if field is not None else None
        if feature is None or not feature.textual:
            return [
                (("field",), f"expected a text feature of the request; its features: {schema.describe()}")
            ]
        return []

    def make(self, raw: bytes, user: UserInputs) -> Outgoing | None:
        body = json.loads(raw)
        field = self.text_field(user.schema)
        value = get_path(body, field) if field is not None else None
        if field is None or not isinstance(value, str):
            return None  # nothing to shout: the request goes out clean
        put_path(body, field, value.upper())
        return Outgoing(encode(body), input=TAG)


class ShoutingInputs(InputFaultSpec):
    type: Literal["shouting_inputs"]
    field: str | None = Field(None, description="The text feature to upper-case; default: the first one.")

    def send(self) -> ShoutingSend:
        return ShoutingSend(field=self.field)

    def service_problems(
        self, response: ResponseFields, schema: RequestSchema | None
    ) -> list[tuple[tuple[int | str, ...], str]]:
        return [] if schema is None else self.send().problems(schema)


class ShoutingUndo(Undo):
    service_url: str


class ShoutingInjector:
    spec = ShoutingInputs
    undo = ShoutingUndo
    sends = (ShoutingSend,)

    def plan(self, spec: ShoutingInputs, target: TargetEndpoints) -> FaultPlan[ShoutingUndo]:
        send = spec.send()
        return FaultPlan(
            touches=(f"the requests sent to {target.service_url} ({spec.share:.0%} shouting)",),
            description=f"{send.describe()} in {spec.share:.0%} of the requests for {spec.duration:g}s",
            undo=ShoutingUndo(service_url=target.service_url),
            acts_on=OnRequests(share=spec.share, send=send),
        )

    def check(self, undo: ShoutingUndo) -> None:
        """Nothing to check on the target: the load generator is mlchaos's own."""

    def inject(self, spec: ShoutingInputs, undo: ShoutingUndo) -> None:
        """The window is already programmed into the load."""

    def revert(self, undo: ShoutingUndo) -> None:
        """The window closes by itself."""


INJECTOR = ShoutingInjector()
