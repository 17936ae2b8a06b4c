"""Prepared requests replayed (``adversarial_samples``): bodies made before the load — by an attack on the live
target, or read from a file — each sent with its own tags. Each user goes through them from its own starting
point."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlchaos.experiments.inputs.outgoing import Outgoing, encode
from mlchaos.experiments.inputs.send import Send, UserInputs


class ReplaySample(BaseModel):
    """One prepared request body and how to tag it (an adversarial sample, say)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    body: dict[str, Any]
    input: str = Field(pattern=r"^[a-z_]+:[a-z0-9_]+$")
    pair: str | None = None
    expected: str | None = None
    label: str | None = None


class ReplaySend(Send):
    """Prepared samples, sent in turn (each user from its own starting point)."""

    kind: Literal["replay"] = "replay"
    samples: tuple[ReplaySample, ...] = Field(
        (), description="Empty when an attack found nothing to replay: the window then sends clean requests."
    )

    @property
    def active(self) -> bool:
        return bool(self.samples)

    def describe(self) -> str:
        return f"{len(self.samples)} prepared samples"

    def make(self, raw: bytes, user: UserInputs) -> Outgoing:
        sample = self.samples[user.next_turn() % len(self.samples)]
        return Outgoing(
            encode(sample.body),
            label=sample.label,
            input=sample.input,
            pair=sample.pair,
            expected=sample.expected,
        )
