"""What every ML input fault's requests are made by: a :class:`Send`, one pydantic model per kind of input.

An input fault (a fault acting on request contents) names its ``Send`` models in its injector's ``sends``; the
fault registry (:mod:`mlchaos.injectors`) collects them, so the load child finds every kind, mlchaos's own and
those installed packages register, through the same entry points (:mod:`~mlchaos.experiments.inputs.kinds`).
A ``Send`` travels to the load child inside the load spec as JSON, told apart by its ``kind``; there:

- :meth:`Send.problems` says what stops it from being built from the service's request schema — checked when the
  run is planned, and again by the load child before anything is sent;
- :meth:`Send.prepare` is called once per load with the dataset's labelled requests (most kinds need nothing);
- :meth:`Send.make` turns one clean request into what is sent instead, for one user (:class:`UserInputs`).

``make`` runs for every request a window draws, in the load child: it must be quick, draw randomness only from
``user.rng`` (so that a user's mix repeats under a seed), and never do I/O.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Self

from pydantic import BaseModel, ConfigDict

from mlchaos.experiments.errors import InvalidInput
from mlchaos.experiments.inputs.outgoing import Outgoing
from mlchaos.experiments.inputs.schema import RequestSchema

Loc = tuple[int | str, ...]
"""Where a setting is in the fault as a scenario writes it, e.g. ``("covariate", "scale", "price")``."""
Problem = tuple[Loc, str]
"""A setting that does not fit the service, and one sentence: what the schema has instead, and what to do."""
Labelled = tuple[dict[str, Any], str | None]
"""A dataset request's body and its true label (``None``: unlabelled)."""
DECLARE = "declare it under the target's request.features"


def known(schema: RequestSchema) -> str:
    """The schema's features, for a problem's message."""
    return f"the request schema's features: {schema.describe()}"


class InputsUnusable(InvalidInput):
    """A send cannot be prepared from what the load has (say no labelled request of a kind it needs)."""


class UserInputs:
    """One load user's side of the input mix: its index, its own seeded generator, the request schema, and
    where a send puts a request to go out next (the second request of a metamorphic pair)."""

    __slots__ = ("_pending", "_turn", "fault_id", "index", "rng", "schema", "seq")

    def __init__(self, index: int, rng: random.Random, schema: RequestSchema) -> None:
        self.index = index
        self.rng = rng
        self.schema = schema
        self.seq = 0
        """How many clean requests this user has taken so far."""
        self.fault_id = ""
        """The fault whose window the request being made falls in."""
        self._pending: list[Outgoing] = []
        # each user goes through prepared requests from its own starting point, like the dataset's offsets
        self._turn = rng.randrange(1 << 30)

    def queue(self, outgoing: Outgoing) -> None:
        """Send ``outgoing`` as this user's next request, before any new one is made."""
        self._pending.append(outgoing)

    def pending(self) -> Outgoing | None:
        return self._pending.pop() if self._pending else None

    def next_turn(self) -> int:
        """This user's next position in a prepared sequence (shared by every window that replays one)."""
        self._turn += 1
        return self._turn


class Send(BaseModel):
    """One kind of input an input fault sends; each kind narrows ``kind`` to its ``Literal["<name>"]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    """The kind's name, written once in its literal: what the load spec's JSON carries."""

    @property
    def active(self) -> bool:
        """False when there is nothing to send (an attack that found nothing): the window then sends clean
        requests."""
        return True

    def describe(self) -> str:
        """One line for ``mlchaos plan``."""
        return self.kind

    def problems(self, schema: RequestSchema) -> list[Problem]:
        """What stops this send from being built from ``schema``; empty when nothing does."""
        del schema
        return []

    def prepare(self, labelled: Sequence[Labelled]) -> Self:
        """This send ready to make requests, given the dataset's labelled requests (once per load). Raises
        :class:`InputsUnusable` when they lack what it needs."""
        del labelled
        return self

    def make(self, raw: bytes, user: UserInputs) -> Outgoing | None:
        """What ``user`` sends instead of the clean request ``raw`` (compact JSON); ``None``: ``raw`` goes out
        clean."""
        raise NotImplementedError(f"input kind '{self.kind}' makes no request")
