"""Mixing ML input faults into the load: each user's clean bodies, with the spec's input windows applied.

Per request and per window the user draws from its own generator (seeded with ``(spec.seed, user index)``)
whether the request falls into the window's share, and then what to send — so a user's mix is the same on every
run with the same seed; only which requests fall inside a window's time span depends on the clock. The draws are
made for every window whether it is open or not, so that timing never shifts the sequence.

A metamorphic pair is two requests: the transformed one is queued and sent as the user's next request.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from typing import Any

from mlchaos.experiments.inputs import metamorphic, mutators, shift
from mlchaos.experiments.inputs.checks import input_problems
from mlchaos.experiments.inputs.outgoing import Outgoing, encode
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.inputs.windows import (
    CorruptSend,
    CovariateSend,
    InputWindow,
    LabelPriorSend,
    MetamorphicSend,
    OodSend,
    ReplaySend,
)
from mlchaos.experiments.load.bodies import Body, BodyError
from mlchaos.experiments.load.spec import LoadSpec

Clock = Callable[[], float]
"""Seconds since the load started."""


class InputMixer:
    """Builds each user's stream of :class:`Outgoing` requests from its clean bodies and the spec's windows."""

    def __init__(self, spec: LoadSpec) -> None:
        self._seed = spec.seed
        self._windows = spec.inputs
        self._schema = spec.request_schema
        self._pools: dict[bool, list[Body]] = {True: [], False: []}
        for window in self._windows:
            if isinstance(window.send, LabelPriorSend):
                self._pools = _label_pools(spec, window.send)
            # the engine checked this before the run; a spec built elsewhere fails here, not mid-load
            if problems := input_problems(window.send, self._schema):
                found = "; ".join(message for _, message in problems)
                raise BodyError(f"input fault '{window.fault_id}' does not fit the request schema: {found}")

    def for_user(self, index: int, clean: Iterator[Body], clock: Clock) -> Iterator[Outgoing]:
        if not self._windows:
            return (Outgoing(raw, label=label) for raw, label in clean)
        return _UserMix(
            self._windows,
            self._pools,
            index,
            clean,
            clock,
            random.Random(f"{self._seed}/mix/{index}"),
            self._schema,
        )


def _label_pools(spec: LoadSpec, send: LabelPriorSend) -> dict[bool, list[Body]]:
    """The dataset's requests split into truly positive and negative ones, for re-drawing at a new prior."""
    pools: dict[bool, list[Body]] = {True: [], False: []}
    for request in spec.requests:
        if request.label is not None:
            pools[request.label == send.positive_label].append((encode(request.body), request.label))
    wanted = [
        positive for positive, share in ((True, send.fraud_share), (False, 1 - send.fraud_share)) if share
    ]
    for positive in wanted:
        if not pools[positive]:
            which = f"'{send.positive_label}'" if positive else f"other than '{send.positive_label}'"
            raise BodyError(
                f"a label_prior shift needs labelled dataset requests with a label {which}; the dataset has none"
            )
    return pools


class _UserMix:
    def __init__(
        self,
        windows: tuple[InputWindow, ...],
        pools: dict[bool, list[Body]],
        index: int,
        clean: Iterator[Body],
        clock: Clock,
        rng: random.Random,
        schema: RequestSchema,
    ) -> None:
        self._windows = windows
        self._schema = schema
        self._pools = pools
        self._index = index
        self._clean = clean
        self._clock = clock
        self._rng = rng
        self._pending: list[Outgoing] = []
        self._seq = 0
        # each user replays prepared samples from its own starting point, like the dataset's offsets
        self._replayed = rng.randrange(1 << 30)

    def __iter__(self) -> _UserMix:
        return self

    def __next__(self) -> Outgoing:
        if self._pending:
            return self._pending.pop()
        raw, label = next(self._clean)
        self._seq += 1
        elapsed = self._clock()
        draws = [self._rng.random() for _ in self._windows]
        for window, draw in zip(self._windows, draws, strict=True):
            if draw < window.share and window.is_open(elapsed):
                return self._apply(window, raw) or Outgoing(raw, label=label)
        return Outgoing(raw, label=label)

    def _apply(self, window: InputWindow, raw: bytes) -> Outgoing | None:
        send, rng = window.send, self._rng
        if isinstance(send, ReplaySend):
            self._replayed += 1
            sample = send.samples[self._replayed % len(send.samples)]
            return Outgoing(
                encode(sample.body),
                label=sample.label,
                input=sample.input,
                pair=sample.pair,
                expected=sample.expected,
            )
        if isinstance(send, LabelPriorSend):
            pool = self._pools[rng.random() < send.fraud_share]
            body, label = pool[rng.randrange(len(pool))]
            return Outgoing(body, label=label, input="shift:label_prior")
        clean: dict[str, Any] = json.loads(raw)
        if isinstance(send, CorruptSend):
            return mutators.mutate(rng.choice(send.mutators), clean, send, self._schema)
        if isinstance(send, CovariateSend):
            return shift.covariate(clean, send, self._schema, rng)
        if isinstance(send, OodSend):
            return shift.ood(rng.choice(send.kinds), clean, self._schema, rng)
        assert isinstance(send, MetamorphicSend)
        pair_id = f"{window.fault_id}/{self._index}/{self._seq}"
        made = metamorphic.pair(rng.choice(send.relations), clean, pair_id, self._schema.features)
        if made is None:  # the request lacks the number the relation starts from: it goes out clean
            return None
        original, transformed = made
        self._pending.append(transformed)
        return original
