"""Label-prior shift (``distribution_shift`` with ``label_prior``): requests re-drawn from the labelled dataset
so that a given share of them are truly positive — the canary mix changes, the features of each request do not.
Tagged ``shift:label_prior`` with their true labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Self

from pydantic import Field, PrivateAttr

from mlchaos.experiments.inputs.outgoing import Outgoing, encode
from mlchaos.experiments.inputs.send import InputsUnusable, Labelled, Send, UserInputs

Pool = list[tuple[bytes, str | None]]


class LabelPriorSend(Send):
    """Requests re-drawn from the labelled dataset so that ``fraud_share`` of them are truly ``positive``."""

    kind: Literal["label_prior"] = "label_prior"
    fraud_share: float = Field(ge=0, le=1)
    positive_label: str = "fraud"
    _pools: dict[bool, Pool] = PrivateAttr(default_factory=dict)
    """Truly positive (``True``) and negative requests of the dataset, as :meth:`prepare` split them."""

    def describe(self) -> str:
        return f"label-prior shift to {self.fraud_share:.0%} fraud"

    def prepare(self, labelled: Sequence[Labelled]) -> Self:
        """The dataset's requests split into truly positive and negative ones, for re-drawing at the new prior."""
        ready = self.model_copy()
        pools: dict[bool, Pool] = {True: [], False: []}
        for body, label in labelled:
            if label is not None:
                pools[label == self.positive_label].append((encode(body), label))
        wanted = [
            positive for positive, share in ((True, self.fraud_share), (False, 1 - self.fraud_share)) if share
        ]
        for positive in wanted:
            if not pools[positive]:
                which = f"'{self.positive_label}'" if positive else f"other than '{self.positive_label}'"
                raise InputsUnusable(
                    f"a label_prior shift needs labelled dataset requests with a label {which}; the dataset has none"
                )
        ready._pools = pools
        return ready

    def make(self, raw: bytes, user: UserInputs) -> Outgoing:
        pool = self._pools[user.rng.random() < self.fraud_share]
        body, label = pool[user.rng.randrange(len(pool))]
        return Outgoing(body, label=label, input="shift:label_prior")
