"""Load shedding: at most ``max_in_flight`` requests work through the fallback chain at once.

Without a limit a traffic spike makes every request slow: each extra request waits on the same event loop, the
same connection pools and the same primary model server, so latency grows for all of them together. With the
limit, the first ``max_in_flight`` requests get the full chain at normal speed and the excess is answered at
once, without waiting for a slot (waiting is exactly the latency the limit exists to avoid): from the rules tier
(``shed_mode: degrade``) or with 429 (``reject``). See :func:`mlchaos.staging.gateway.app.create_app`.

Under the ``no_load_shedding`` flag the limit is still counted (the in-flight gauge shows the pile-up) but never
enforced.
"""

from __future__ import annotations

from collections.abc import Callable


class InFlightLimit:
    """A counter of requests in the chain, with a ceiling.

    No lock: the gateway is one asyncio event loop in one thread, and :meth:`try_enter` neither awaits nor is
    called from another thread, so no other request can run between its check and its increment. (A gateway
    with threads or several workers would need a lock, or a limit per worker.)
    """

    def __init__(
        self, limit: int, *, enforced: bool = True, on_change: Callable[[int], None] | None = None
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.limit = limit
        self.enforced = enforced
        self._on_change = on_change
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def try_enter(self) -> bool:
        """Take a slot if one is free (always, if not enforced). Every ``True`` must be matched by exactly one
        :meth:`leave`, in a ``finally``."""
        if self.enforced and self._in_flight >= self.limit:
            return False
        self._set(self._in_flight + 1)
        return True

    def leave(self) -> None:
        self._set(max(0, self._in_flight - 1))

    def describe(self) -> str:
        """Why a request was shed, for ``skipped`` reasons and error details."""
        return f"load shed: {self._in_flight} requests in flight, max_in_flight is {self.limit}"

    def _set(self, value: int) -> None:
        self._in_flight = value
        if self._on_change is not None:
            self._on_change(value)
