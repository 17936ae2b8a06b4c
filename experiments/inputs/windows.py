"""What an ML input fault sends, and when: the model shared by the injectors (which declare it), the engine
(which places it on the load's clock) and the load child (which sends it).

An :class:`InputWindow` says: from ``start_s`` to ``end_s`` after the load started, replace ``share`` of the
requests with what ``send`` describes — a :class:`~mlchaos.experiments.inputs.send.Send` of any kind an input
fault registers, told apart in the load spec's JSON by its ``kind`` and read back through the fault registry
(:mod:`~mlchaos.experiments.inputs.kinds`). The child draws that share per request from a generator seeded with
``(spec.seed, user index)``, so a given user sends the same mix on every run with the same seed.

Every request sent in a window is tagged in its record (``input``, ``pair``, ``expected``; see
:class:`~mlchaos.experiments.records.RequestRecord`); requests outside a window, or not drawn into its share,
are clean (``input`` is ``None``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, field_validator, model_validator

from mlchaos.experiments.inputs.kinds import send_model
from mlchaos.experiments.inputs.send import Send


class InputWindow(BaseModel):
    """From ``start_s`` to ``end_s`` (seconds after the load started), ``share`` of the requests are ``send``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fault_id: str
    start_s: float = Field(ge=0)
    end_s: float
    share: float = Field(gt=0, le=1)
    # SerializeAsAny: written with its own kind's fields, which the base model does not have
    send: SerializeAsAny[Send]

    @field_validator("send", mode="before")
    @classmethod
    def _by_kind(cls, value: Any) -> Any:
        if isinstance(value, Send) or not isinstance(value, dict):
            return value
        return send_model(value.get("kind")).model_validate(value)

    @model_validator(mode="after")
    def _ends_after_start(self) -> InputWindow:
        if self.end_s <= self.start_s:
            raise ValueError(f"window '{self.fault_id}' ends ({self.end_s:g}s) before it starts")
        return self

    def is_open(self, elapsed_s: float) -> bool:
        return self.start_s <= elapsed_s < self.end_s and self.send.active
