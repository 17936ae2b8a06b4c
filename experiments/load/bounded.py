"""The load's requests bounded in time and size, and never lost: checks inside both Locust HTTP clients.

Like :mod:`~mlchaos.experiments.load.guard` this patches where every Locust user sends through —
``FastHttpSession`` (FastHttpUser) and ``HttpSession`` (HttpUser) — in the load child's process, so it holds for
mlchaos' own user and a team's locustfile alike (see :mod:`mlchaos.experiments.http_bounds` for why).

- **One total deadline per request** (``request_timeout_s``). The clients' own timeouts bound each socket read, so
  a target dribbling a byte every half second would hold a request for ever. Each request gets a timer on
  gevent's loop that, at the deadline, raises :class:`~mlchaos.experiments.http_bounds.DeadlinePassed` (a
  ``TimeoutError``) wherever the request is waiting — and again every second, should a client swallow it. The
  clients handle it as the socket timeout it stands for; Locust records the request as failed, and its row says
  ``no complete answer within Ns``.
- **Answers capped** (``max_response_bytes``). The body is read in pieces (geventhttpclient: its ``read()``;
  requests: ``Response.content``), gzip/deflate decompressed with a bounded output; past the cap reading stops
  with :class:`~mlchaos.experiments.http_bounds.AnswerTooLarge`, and the connection is closed. Memory stays at
  one capped answer per user.
- **No request vanishes.** Every request is tracked from the moment it is sent until Locust's ``request`` event
  records it. One that never gets there — its user killed by the stop while it waited for its answer, or an
  exception that escaped the client — is recorded by :meth:`InFlight.record_unfinished` as a timeout row with
  its elapsed time, so a hung target shows in availability instead of disappearing from it.
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401 - first: it monkey-patches for gevent, which must precede every other import

# isort: on
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent
import requests.models
from geventhttpclient.response import HTTPSocketResponse
from geventhttpclient.useragent import CompatResponse
from locust.clients import HttpSession
from locust.contrib.fasthttp import FastHttpSession

from mlchaos.experiments.http_bounds import AnswerTooLarge, DeadlinePassed

PIECE_BYTES = 64 * 1024
"""How much of an answer is read at a time."""
STOPPED_IN_FLIGHT = "timed out: no answer yet when the load stopped"
"""The error of a request still waiting when the stop killed its user (``stop_grace_s`` after the end)."""
RETHROW_S = 1.0
"""After the deadline, how often it is raised again while the request is still waiting (a client swallowed it)."""


@dataclass(eq=False)
class Pending:
    """A request sent and not yet recorded."""

    start: float
    """Epoch at which it was sent (the row's ``start``)."""
    context: dict[str, Any]
    expired: bool = False
    """Its deadline passed while it waited."""
    recorded: bool = False
    """Locust's ``request`` event fired for it."""


Unfinished = Callable[[Pending, float, str], None]
"""Records a request that ended without its ``request`` event: ``(pending, elapsed_s, error)``."""


@dataclass
class InFlight:
    """The requests of this process in flight, by greenlet (one request at a time per user greenlet; a request
    made inside another's event listener stacks on it)."""

    deadline_s: float = 5.0
    max_bytes: int = 1024 * 1024
    unfinished: Unfinished | None = None
    _open: dict[Any, list[Pending]] = field(default_factory=dict)

    def claim(self) -> Pending | None:
        """The request of the calling greenlet whose event is firing now, marked recorded (``None`` outside a
        request: say a ``catch_response`` block's event, fired after the request returned)."""
        stack = self._open.get(gevent.getcurrent())
        if not stack or stack[-1].recorded:
            return None
        stack[-1].recorded = True
        return stack[-1]

    def send(self, request: Callable[[], Any], context: dict[str, Any]) -> Any:
        """Run ``request`` (a Locust client's) tracked and within the deadline."""
        me = gevent.getcurrent()
        pending = Pending(time.time(), context)
        self._open.setdefault(me, []).append(pending)
        timer = gevent.get_hub().loop.timer(self.deadline_s, RETHROW_S)
        timer.start(self._expire, pending, me)
        try:
            return request()
        except (gevent.GreenletExit, DeadlinePassed, AnswerTooLarge) as exc:
            # the stop killed the user mid-request, or a bound escaped the client before Locust recorded it
            if not pending.recorded:
                self._record_unfinished(pending, self._why(pending, exc))
            raise
        finally:
            timer.close()
            stack = self._open.get(me, [])
            if pending in stack:
                stack.remove(pending)
            if not stack:
                self._open.pop(me, None)

    def record_unfinished(self) -> None:
        """Record every request still in flight (the users were stopped): a timeout row each."""
        for stack in list(self._open.values()):
            for pending in stack:
                if not pending.recorded:
                    self._record_unfinished(pending, self._why(pending, None))

    def _expire(self, pending: Pending, greenlet: Any) -> None:
        if pending.recorded or greenlet.dead:
            return
        pending.expired = True
        greenlet.throw(DeadlinePassed(self.deadline_s))

    def _why(self, pending: Pending, exc: BaseException | None) -> str:
        if pending.expired:
            return f"{DeadlinePassed.__name__}: {DeadlinePassed(self.deadline_s)}"
        if exc is None or isinstance(exc, gevent.GreenletExit):
            elapsed = time.time() - pending.start
            return f"{STOPPED_IN_FLIGHT} ({elapsed:.1f}s after it was sent)"
        return f"{type(exc).__name__}: {exc}"

    def _record_unfinished(self, pending: Pending, error: str) -> None:
        pending.recorded = True
        if self.unfinished is not None:
            self.unfinished(pending, time.time() - pending.start, error)


_in_flight = InFlight()
_installed = False


def bound_requests(deadline_s: float, max_bytes: int) -> InFlight:
    """Bound every request of this process from now on (see the module); the tracker of its requests."""
    global _installed
    _in_flight.deadline_s = deadline_s
    _in_flight.max_bytes = max_bytes
    if not _installed:
        _install()
        _installed = True
    return _in_flight


def in_flight() -> InFlight:
    return _in_flight


def _read_capped(read: Callable[[int], bytes], max_bytes: int, release: Callable[[], None]) -> bytes:
    pieces: list[bytes] = []
    size = 0
    while piece := read(PIECE_BYTES):
        size += len(piece)
        if size > max_bytes:
            release()  # mid-answer: the connection is closed, never reused
            raise AnswerTooLarge(max_bytes)
        pieces.append(piece)
    return b"".join(pieces)


def _decompressed(body: bytes, wbits: int, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    # at most max_bytes + 1 out: what is left stays compressed in unconsumed_tail
    out = inflater.decompress(body, max_bytes + 1)
    if len(out) > max_bytes:
        raise AnswerTooLarge(max_bytes)
    return out + inflater.flush()


def _install() -> None:
    # The originals, called by the replacements (typed Any: the clients' signatures are loose).
    fast_request: Any = FastHttpSession.request
    requests_request: Any = HttpSession.request
    socket_read: Any = HTTPSocketResponse.read
    unzipped: Any = CompatResponse.unzipped

    def tracked_fast_request(self: FastHttpSession, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        context = kwargs.get("context") or {}
        return _in_flight.send(lambda: fast_request(self, method, url, *args, **kwargs), context)

    def tracked_requests_request(self: HttpSession, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        context = kwargs.get("context") or {}
        return _in_flight.send(lambda: requests_request(self, method, url, *args, **kwargs), context)

    def capped_socket_read(self: HTTPSocketResponse, length: int | None = None) -> bytes:
        """geventhttpclient's whole-body read (FastResponse.content), in pieces and capped."""
        if length is not None:
            return socket_read(self, length)  # type: ignore[no-any-return]
        declared = self.content_length
        if declared is not None:
            if declared > _in_flight.max_bytes:
                self.release()
                raise AnswerTooLarge(_in_flight.max_bytes)
            # the parser reads no more than the declared length: no need to count the pieces (the common case)
            return socket_read(self)  # type: ignore[no-any-return]
        return _read_capped(lambda n: socket_read(self, n), _in_flight.max_bytes, self.release)

    def capped_unzipped(self: CompatResponse, gzip: bool = True, br: bool = False) -> bytes:
        """The decompressed body, its size capped too (a small gzip answer can inflate a thousandfold)."""
        if br:
            return unzipped(self, gzip, br)  # type: ignore[no-any-return]
        body = self._response.read()  # capped above
        if gzip:
            return _decompressed(body, 16 + zlib.MAX_WBITS, _in_flight.max_bytes)
        try:
            return _decompressed(body, -zlib.MAX_WBITS, _in_flight.max_bytes)
        except zlib.error:
            return _decompressed(body, zlib.MAX_WBITS, _in_flight.max_bytes)

    def capped_content(self: Any) -> bytes | None:  # a requests.models.Response (private fields: Any)
        """requests' ``Response.content``, read in decoded pieces (urllib3 bounds each) and capped."""
        if self._content is False:
            if self._content_consumed:
                raise RuntimeError("The content for this response was already consumed")
            if self.status_code == 0 or self.raw is None:
                self._content = None
            else:
                chunks = self.iter_content(PIECE_BYTES)
                self._content = _read_capped(lambda _n: next(chunks, b""), _in_flight.max_bytes, self.close)
        self._content_consumed = True
        content: bytes | None = self._content
        return content

    FastHttpSession.request = tracked_fast_request  # type: ignore[method-assign]
    HttpSession.request = tracked_requests_request  # type: ignore[method-assign]
    HTTPSocketResponse.read = capped_socket_read  # type: ignore[method-assign]
    CompatResponse.unzipped = capped_unzipped  # type: ignore[method-assign]
    requests.models.Response.content = property(capped_content)  # type: ignore[assignment,method-assign]
