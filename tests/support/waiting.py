"""The one way a test waits for something: poll until it happens, fail after a bound saying what never did."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    check: Callable[[], T | None],
    timeout_s: float,
    what: str,
    interval_s: float = 0.05,
    *,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``check`` every ``interval_s`` until it returns something truthy, and return that.

    After ``timeout_s`` the test fails with an ``AssertionError`` naming ``what`` was awaited. The bound only
    stops a hang: it is not a measurement, so make it generous. Exceptions of the ``ignoring`` types mean "not
    yet" (a server not listening yet); the last one seen is quoted in the failure. Any other exception, an
    ``AssertionError`` raised by ``check`` included (a process that died meanwhile), ends the wait at once.
    """
    deadline = time.monotonic() + timeout_s
    last_error: BaseException | None = None
    while True:
        try:
            result = check()
        except ignoring as error:
            last_error, result = error, None
        else:
            last_error = None
        if result:
            return result
        if time.monotonic() > deadline:
            seen = f" (last: {type(last_error).__name__}: {last_error})" if last_error is not None else ""
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}{seen}")
        time.sleep(interval_s)
