"""Mixing ML input faults into the load: each user's clean bodies, with the spec's input windows applied.

Per request and per window the user draws from its own generator (seeded with ``(spec.seed, user index)``)
whether the request falls into the window's share, and then what to send — so a user's mix is the same on every
run with the same seed; only which requests fall inside a window's time span depends on the clock. The draws are
made for every window whether it is open or not, so that timing never shifts the sequence.

What a drawn request becomes is its window's :class:`~mlchaos.experiments.inputs.send.Send`'s to say, whatever
its kind (``make``); a send may queue a second request to go out next (a metamorphic pair's transformed one).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from mlchaos.experiments.inputs.outgoing import Outgoing
from mlchaos.experiments.inputs.send import InputsUnusable, Send, UserInputs
from mlchaos.experiments.inputs.windows import InputWindow
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
        labelled = [(request.body, request.label) for request in spec.requests]
        sends: list[Send] = []
        for window in self._windows:
            try:
                sends.append(window.send.prepare(labelled))
            except InputsUnusable as exc:
                raise BodyError(str(exc)) from exc
            # the engine checked this before the run; a spec built elsewhere fails here, not mid-load
            if problems := window.send.problems(self._schema):
                found = "; ".join(message for _, message in problems)
                raise BodyError(f"input fault '{window.fault_id}' does not fit the request schema: {found}")
        self._sends = tuple(sends)

    def for_user(self, index: int, clean: Iterator[Body], clock: Clock) -> Iterator[Outgoing]:
        if not self._windows:
            return (Outgoing(raw, label=label) for raw, label in clean)
        rng = random.Random(f"{self._seed}/mix/{index}")
        return _UserMix(self._windows, self._sends, UserInputs(index, rng, self._schema), clean, clock)


class _UserMix:
    def __init__(
        self,
        windows: tuple[InputWindow, ...],
        sends: tuple[Send, ...],
        user: UserInputs,
        clean: Iterator[Body],
        clock: Clock,
    ) -> None:
        self._windows = tuple(zip(windows, sends, strict=True))
        self._user = user
        self._clean = clean
        self._clock = clock

    def __iter__(self) -> _UserMix:
        return self

    def __next__(self) -> Outgoing:
        user = self._user
        if (queued := user.pending()) is not None:
            return queued
        raw, label = next(self._clean)
        user.seq += 1
        elapsed = self._clock()
        draws = [user.rng.random() for _ in self._windows]
        for (window, send), draw in zip(self._windows, draws, strict=True):
            if draw < window.share and window.is_open(elapsed):
                user.fault_id = window.fault_id
                return send.make(raw, user) or Outgoing(raw, label=label)
        return Outgoing(raw, label=label)
