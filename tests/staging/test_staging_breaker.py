"""The circuit breaker's state machine, driven by a fake clock: no sleeping, no network."""

from __future__ import annotations

import asyncio

import pytest

from mlchaos.staging.gateway.breaker import BreakerState, CircuitBreaker, CircuitOpenError
from mlchaos.staging.options import BreakerOptions

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
OPTIONS = BreakerOptions(failure_threshold=3, recovery_timeout_s=10.0, half_open_successes=2)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture()
def transitions() -> list[tuple[BreakerState, BreakerState]]:
    return []


@pytest.fixture()
def breaker(clock: FakeClock, transitions: list[tuple[BreakerState, BreakerState]]) -> CircuitBreaker:
    return CircuitBreaker(
        "dep", OPTIONS, clock=clock, on_transition=lambda name, old, new: transitions.append((old, new))
    )


def fail(breaker: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        breaker.acquire()
        breaker.record_failure()


def succeed(breaker: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        breaker.acquire()
        breaker.record_success()


def open_breaker(breaker: CircuitBreaker) -> None:
    fail(breaker, OPTIONS.failure_threshold)
    assert breaker.state is OPEN


def test_stays_closed_below_the_threshold_and_a_success_resets_the_count(breaker: CircuitBreaker) -> None:
    fail(breaker, OPTIONS.failure_threshold - 1)
    succeed(breaker)
    fail(breaker, OPTIONS.failure_threshold - 1)
    assert breaker.state is CLOSED


def test_opens_after_consecutive_failures_and_refuses_calls(
    breaker: CircuitBreaker, clock: FakeClock, transitions: list[tuple[BreakerState, BreakerState]]
) -> None:
    open_breaker(breaker)
    assert transitions == [(CLOSED, OPEN)]
    clock.advance(4.0)
    with pytest.raises(CircuitOpenError, match=r"dep: circuit open, next trial in 6\.00 s") as refused:
        breaker.acquire()
    assert refused.value.retry_in_s == pytest.approx(6.0)


def test_half_opens_after_the_recovery_timeout_and_closes_after_enough_successes(
    breaker: CircuitBreaker, clock: FakeClock, transitions: list[tuple[BreakerState, BreakerState]]
) -> None:
    open_breaker(breaker)
    clock.advance(OPTIONS.recovery_timeout_s - 0.01)
    assert breaker.state is OPEN
    clock.advance(0.01)
    assert breaker.state is HALF_OPEN
    succeed(breaker)
    assert breaker.state is HALF_OPEN  # one trial is not yet enough
    succeed(breaker)
    assert breaker.state is CLOSED
    assert transitions == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]
    fail(breaker, OPTIONS.failure_threshold - 1)
    assert breaker.state is CLOSED  # the failure count started afresh


def test_a_failed_trial_reopens_and_restarts_the_timeout(breaker: CircuitBreaker, clock: FakeClock) -> None:
    open_breaker(breaker)
    clock.advance(OPTIONS.recovery_timeout_s)
    succeed(breaker)
    fail(breaker)
    assert breaker.state is OPEN
    clock.advance(OPTIONS.recovery_timeout_s - 1)
    with pytest.raises(CircuitOpenError):
        breaker.acquire()
    clock.advance(1)
    assert breaker.state is HALF_OPEN


def test_half_open_admits_only_as_many_trials_at_once_as_it_needs(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    open_breaker(breaker)
    clock.advance(OPTIONS.recovery_timeout_s)
    for _ in range(OPTIONS.half_open_successes):
        breaker.acquire()
    with pytest.raises(CircuitOpenError):
        breaker.acquire()
    breaker.release()  # a trial that ended without a verdict frees its slot
    breaker.acquire()


def test_never_half_open_stays_open_forever(clock: FakeClock) -> None:
    breaker = CircuitBreaker("dep", OPTIONS, clock=clock, never_half_open=True)
    open_breaker(breaker)
    clock.advance(OPTIONS.recovery_timeout_s * 1000)
    assert breaker.state is OPEN
    with pytest.raises(CircuitOpenError, match="never") as refused:
        breaker.acquire()
    assert refused.value.retry_in_s is None


def test_late_results_of_calls_admitted_before_opening_are_ignored(breaker: CircuitBreaker) -> None:
    breaker.acquire()  # admitted while closed, still in flight...
    open_breaker(breaker)
    breaker.record_success()  # ...and done only now: proves nothing about the open dependency
    assert breaker.state is OPEN


def test_call_counts_exceptions_as_failures_but_not_cancellation(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    async def broken() -> None:
        raise ConnectionError("refused")

    async def cancelled() -> None:
        raise asyncio.CancelledError

    async def fine() -> str:
        return "ok"

    async def scenario() -> None:
        for _ in range(OPTIONS.failure_threshold):
            with pytest.raises(ConnectionError):
                await breaker.call(broken)
        assert breaker.state is OPEN
        clock.advance(OPTIONS.recovery_timeout_s)
        for _ in range(OPTIONS.half_open_successes + 1):  # cancelled trials neither count nor hold a slot
            with pytest.raises(asyncio.CancelledError):
                await breaker.call(cancelled)
        assert breaker.state is HALF_OPEN
        assert [await breaker.call(fine) for _ in range(OPTIONS.half_open_successes)] == ["ok", "ok"]
        assert breaker.state is CLOSED

    asyncio.run(scenario())
