"""A circuit breaker per remote dependency: stop calling what fails, and test carefully whether it is back.

::

    CLOSED --(failure_threshold consecutive failures)--> OPEN
    OPEN --(recovery_timeout_s elapsed)--> HALF_OPEN            (never, with breaker_never_closes)
    HALF_OPEN --(half_open_successes successful trials)--> CLOSED
    HALF_OPEN --(any failed trial)--> OPEN                       (and the recovery timeout starts again)

While OPEN, calls are refused at once (:class:`CircuitOpenError`), so a dead dependency costs no latency. In
HALF_OPEN at most ``half_open_successes`` trial calls are in flight at a time and further calls are refused as
if OPEN: under load, a recovering dependency sees a trickle of trials, not the whole backlog.

Time comes from an injected clock (``time.monotonic`` by default), so tests drive the state machine without
sleeping. The OPEN -> HALF_OPEN transition happens when the state is next looked at (a metrics scrape does).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from mlchaos.staging.options import BreakerOptions

T = TypeVar("T")
Clock = Callable[[], float]
TransitionListener = Callable[[str, "BreakerState", "BreakerState"], None]
"""Called with (breaker name, old state, new state) on every transition."""


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpenError(Exception):
    """The breaker refused the call without trying it."""

    def __init__(self, name: str, retry_in_s: float | None) -> None:
        when = "never (breaker_never_closes)" if retry_in_s is None else f"in {retry_in_s:.2f} s"
        super().__init__(f"{name}: circuit open, next trial {when}")
        self.name = name
        self.retry_in_s = retry_in_s


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        options: BreakerOptions,
        *,
        clock: Clock | None = None,
        never_half_open: bool = False,
        on_transition: TransitionListener | None = None,
    ) -> None:
        self.name = name
        self.options = options
        self._clock = clock or time.monotonic
        self._never_half_open = never_half_open
        self._on_transition = on_transition
        self._state = BreakerState.CLOSED
        self._failures = 0  # consecutive, while CLOSED
        self._opened_at = 0.0
        self._trials_in_flight = 0
        self._trial_successes = 0

    @property
    def state(self) -> BreakerState:
        """The current state (moving OPEN -> HALF_OPEN first if the recovery timeout has passed)."""
        if self._state is BreakerState.OPEN and self._retry_in() == 0.0:
            self._trials_in_flight = 0
            self._trial_successes = 0
            self._move(BreakerState.HALF_OPEN)
        return self._state

    def _retry_in(self) -> float | None:
        if self._never_half_open:
            return None
        return max(0.0, self._opened_at + self.options.recovery_timeout_s - self._clock())

    def acquire(self) -> None:
        """Admit one call, or raise :class:`CircuitOpenError`. Every admitted call must end in exactly one of
        :meth:`record_success`, :meth:`record_failure` or :meth:`release`."""
        state = self.state
        if state is BreakerState.OPEN or (
            state is BreakerState.HALF_OPEN and self._trials_in_flight >= self.options.half_open_successes
        ):
            raise CircuitOpenError(self.name, self._retry_in())
        if state is BreakerState.HALF_OPEN:
            self._trials_in_flight += 1

    def record_success(self) -> None:
        if self._state is BreakerState.HALF_OPEN:
            self._end_trial()
            self._trial_successes += 1
            if self._trial_successes >= self.options.half_open_successes:
                self._failures = 0
                self._move(BreakerState.CLOSED)
        elif self._state is BreakerState.CLOSED:
            self._failures = 0
        # A call admitted while CLOSED may end after the breaker opened; its success proves little: ignored.

    def record_failure(self) -> None:
        if self._state is BreakerState.HALF_OPEN:
            self._end_trial()
            self._open()
        elif self._state is BreakerState.CLOSED:
            self._failures += 1
            if self._failures >= self.options.failure_threshold:
                self._open()

    def release(self) -> None:
        """End an admitted call that neither succeeded nor failed (e.g. the client went away)."""
        if self._state is BreakerState.HALF_OPEN:
            self._end_trial()

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn`` under the breaker: refused while open; an exception counts as failure and propagates."""
        self.acquire()
        try:
            result = await fn()
        except Exception:
            self.record_failure()
            raise
        except BaseException:  # cancellation says nothing about the dependency's health
            self.release()
            raise
        self.record_success()
        return result

    def _end_trial(self) -> None:
        self._trials_in_flight = max(0, self._trials_in_flight - 1)

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._failures = 0
        self._move(BreakerState.OPEN)

    def _move(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        if old is not new and self._on_transition is not None:
            self._on_transition(self.name, old, new)
