"""Out-of-distribution requests (``distribution_shift`` with ``ood``): inputs that fit the service's request
schema but lie far outside its training data, tagged ``ood:<kind>`` — what OOD routing must flag. How each kind is
built: :mod:`~mlchaos.experiments.inputs.shift`."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import Field

from mlchaos.experiments.inputs import shift
from mlchaos.experiments.inputs.outgoing import Outgoing
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.inputs.send import Problem, Send, UserInputs, known
from mlchaos.experiments.inputs.shift import OodKind


class OodSend(Send):
    """Out-of-distribution requests of the given kinds (drawn per request)."""

    kind: Literal["ood"] = "ood"
    kinds: tuple[OodKind, ...] = Field(min_length=1)

    def describe(self) -> str:
        return "out-of-distribution inputs: " + ", ".join(k.value for k in self.kinds)

    def make(self, raw: bytes, user: UserInputs) -> Outgoing:
        return shift.ood(user.rng.choice(self.kinds), json.loads(raw), user.schema, user.rng)

    def problems(self, schema: RequestSchema) -> list[Problem]:
        """OOD kinds the schema gives nothing to build from."""
        problems: list[Problem] = []
        for i, kind in enumerate(self.kinds):
            if any(shift.changes(kind, feature) for feature in schema.features.values()):
                continue
            if kind is OodKind.EXTREME:
                message = (
                    "'extreme' needs a numeric feature with a typical range (from the dataset, or declared "
                    "`typical`) and room beyond it within its declared min/max — at least one typical span; "
                    f"{known(schema)}"
                )
            else:
                message = (
                    f"'{kind.value}' would change no feature ({known(schema)}): declare request.features with "
                    "their ranges or choices, or give the load a dataset to infer them from"
                )
            problems.append((("ood", i), message))
        return problems
