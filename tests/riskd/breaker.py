"""A circuit breaker per upstream (``profiles``, ``scorer``)::

    CLOSED --threshold consecutive failures--> OPEN     (never, under breaker_never_opens)
    OPEN --recovery_s elapsed--> HALF_OPEN              (never, under breaker_never_closes)
    HALF_OPEN --the one trial call succeeds--> CLOSED
    HALF_OPEN --the trial call fails--> OPEN            (and the recovery time starts again)

In HALF_OPEN exactly one trial call is let through at a time; everything else is refused as if OPEN, so a
recovering upstream sees one request, not the backlog. The OPEN -> HALF_OPEN move happens when the state is
next looked at (a call, or a metrics scrape), so the gauge shows it even without traffic.

No lock: risk-api is one asyncio loop and nothing here awaits.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

Clock = Callable[[], float]
Listener = Callable[[str, "State", "State"], None]


class State(enum.IntEnum):
    """The values are what ``riskd_upstream_circuit`` shows."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class Breaker:
    def __init__(
        self,
        name: str,
        threshold: int,
        recovery_s: float,
        *,
        never_opens: bool = False,
        never_half_opens: bool = False,
        clock: Clock = time.monotonic,
        listener: Listener | None = None,
    ) -> None:
        self.name = name
        self.threshold = threshold
        self.recovery_s = recovery_s
        self._never_opens = never_opens
        self._never_half_opens = never_half_opens
        self._clock = clock
        self._listener = listener
        self._state = State.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_out = False

    @property
    def state(self) -> State:
        if (
            self._state is State.OPEN
            and not self._never_half_opens
            and self._clock() - self._opened_at >= self.recovery_s
        ):
            self._move(State.HALF_OPEN)
        return self._state

    def acquire(self) -> bool:
        """May a call go out now? Every True must be followed by :meth:`succeeded` or :meth:`failed`."""
        state = self.state
        if state is State.CLOSED:
            return True
        if state is State.HALF_OPEN and not self._trial_out:
            self._trial_out = True
            return True
        return False

    def succeeded(self) -> None:
        self._failures = 0
        if self._state is State.HALF_OPEN:
            self._move(State.CLOSED)

    def failed(self) -> None:
        if self._state is State.HALF_OPEN:
            self._move(State.OPEN)
        elif self._state is State.CLOSED:
            self._failures += 1
            if self._failures >= self.threshold and not self._never_opens:
                self._move(State.OPEN)
        # A failure reported while OPEN comes from a call let out before it opened: it changes nothing.

    def _move(self, new: State) -> None:
        old, self._state = self._state, new
        self._trial_out = False
        self._failures = 0
        if new is State.OPEN:
            self._opened_at = self._clock()
        if self._listener is not None:
            self._listener(self.name, old, new)
