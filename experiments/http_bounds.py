"""The two bounds on every request mlchaos sends a target: one total deadline, and a cap on the answer's size.

A target is not trusted to answer promptly or briefly. Timeouts of HTTP clients bound each socket operation, not
the request: a server that sends one byte every half second never trips a 5 s read timeout, and one that answers
300 MB fills the client's memory. So everywhere mlchaos talks to a target — the load (its child process bounds its
own requests with these exceptions and messages: :mod:`mlchaos.experiments.load.bounded`), the prober, preflight,
``target check``, ``init`` and the adversarial attack (all through
:func:`mlchaos.experiments.signal_reading.get`/``post``, which use :class:`BoundedAdapter`) — a request that is
not answered in full within its deadline is abandoned and recorded as a timeout, and an answer is read in pieces
and given up as an error as soon as it passes the cap, never held whole.

:class:`BoundedAdapter` makes the deadline total for ``requests``: urllib3's ``Timeout(total=…)`` bounds the
connection, but http.client reads the status line and headers with one socket timeout per read, so a server
dribbling its headers could hold a request for ever. Each connection of the adapter registers its socket with
the :class:`Watch` of the request in progress (a thread-local), and the watch's timer shuts the socket down at
the deadline: the blocked read wakes up at once (closing the socket would not wake it).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import requests
import requests.adapters
import urllib3
import urllib3.connection

from mlchaos.experiments.errors import MlchaosError

DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024
"""The default cap on a prediction answer (``load.max_response_bytes``): an answer is a few hundred bytes, a
batch answer a few KB; 1 MiB leaves room for any real one while a load process holding one capped answer per
user stays within its memory (1,000 users × 1 MiB at the very worst)."""


class DeadlinePassed(requests.exceptions.Timeout, TimeoutError, MlchaosError):
    """A request not answered in full within its total deadline.

    Both a ``requests`` timeout and a ``TimeoutError`` (an ``OSError``): whichever HTTP client it is raised in —
    requests, urllib3, geventhttpclient — handles it like the socket timeout it stands for, and Locust records
    the request as failed instead of losing it."""

    def __init__(self, deadline_s: float) -> None:
        super().__init__(deadline_message(deadline_s))


class AnswerTooLarge(requests.exceptions.RequestException, MlchaosError):
    """An answer larger than the cap; reading stopped there (an ``OSError`` too, for the same reason)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(too_large_message(max_bytes))


def deadline_message(deadline_s: float) -> str:
    return f"no complete answer within {deadline_s:g}s"


def too_large_message(max_bytes: int) -> str:
    return f"answer larger than {max_bytes} bytes"


class Watch:
    """One request's deadline: the sockets it uses are shut down when it passes (see the module)."""

    def __init__(self, deadline_s: float) -> None:
        self.deadline_s = deadline_s
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(deadline_s, self._expire)
        self._timer.daemon = True

    def add(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if not any(known is sock for known in self._sockets):
                self._sockets.append(sock)
            if self.expired:  # connected just as the deadline passed
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


_current = threading.local()


@contextlib.contextmanager
def watched(deadline_s: float) -> Iterator[Watch]:
    """The requests this thread sends through a :class:`BoundedAdapter` inside the block end at ``deadline_s``."""
    watch = Watch(deadline_s)
    outer = getattr(_current, "watch", None)
    _current.watch = watch
    watch._timer.start()
    try:
        yield watch
    finally:
        watch._timer.cancel()
        _current.watch = outer


def _watch_socket(sock: Any) -> None:
    watch: Watch | None = getattr(_current, "watch", None)
    if watch is not None and isinstance(sock, socket.socket):
        watch.add(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: nothing to wake
        sock.shutdown(socket.SHUT_RDWR)


class _Watched:
    """A connection whose socket the request in progress watches: registered when it connects, and again for
    each request sent on it (a kept-alive connection serves several)."""

    sock: Any

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _watch_socket(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch_socket(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class BoundedAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, with connections that :func:`watched` can end at a deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: Any, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


def bounded(session: requests.Session) -> requests.Session:
    """``session`` with :class:`BoundedAdapter` mounted for http and https (once)."""
    if not isinstance(session.get_adapter("http://"), BoundedAdapter):
        session.mount("http://", BoundedAdapter())
        session.mount("https://", BoundedAdapter())
    return session
