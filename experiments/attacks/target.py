"""The target's prediction endpoint as a :data:`~mlchaos.experiments.attacks.boundary.Query`: one call, one POST.

The answer is read through the target's response mapping (``response.prediction``, ``response.score``: a JSON
field, a nested path such as ``outputs.0.data.1``, or ``header:NAME``) with the load's own field readers
(:func:`mlchaos.experiments.load.wire.field_reader`), and a prediction is turned into text the way the load
records it — so the attack's ``expected`` answers compare equal to what the load records later. The score is
optional: the boundary search needs only the prediction.

Anything but a 200 carrying a prediction is a :class:`QueryFailedError` (the attack counts it and treats the point
as not adversarial); so is a transport error, an answer larger than :data:`MAX_ANSWER_BYTES`, and a request still
unanswered at its deadline. The deadline is total — connecting, sending and reading the whole answer — not per
read: a server that drips its answer a byte at a time cannot hold the attack. Request headers (API keys, tenant
ids) stay in the client: they never appear in what the attack returns.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from mlchaos.experiments.attacks.boundary import Answer, QueryFailedError
from mlchaos.experiments.load import wire

MAX_ANSWER_BYTES = 1024 * 1024
"""A prediction is a few hundred bytes; an answer larger than this is not one, and is not read to its end."""
_CONNECTED = ("connection.connect_tcp.complete", "connection.start_tls.complete")


class HttpQuery:
    """POSTs each body as JSON to ``base_url + path`` over one keep-alive connection, each request within
    ``timeout_s`` in all; close it when done (or use it as a context manager)."""

    def __init__(
        self,
        base_url: str,
        path: str,
        headers: Mapping[str, str],
        timeout_s: float,
        prediction_field: str = "prediction",
        score_field: str | None = None,
    ) -> None:
        self._client = httpx.Client(base_url=base_url, headers=dict(headers), timeout=timeout_s)
        self._path = path
        self._timeout_s = timeout_s
        self._prediction = wire.field_reader(prediction_field)
        self._prediction_field = prediction_field
        self._score = wire.field_reader(score_field) if score_field is not None else None
        self._needs_body = wire.needs_body(prediction_field, *(() if score_field is None else (score_field,)))
        self._sockets: list[socket.socket] = []
        """The sockets of the client's connections, to be shut down when a request outlives its deadline."""
        self._lock = threading.Lock()
        self._expired = threading.Event()
        """Set when the request in flight has passed its deadline."""

    def __call__(self, body: Mapping[str, Any]) -> Answer:
        content = json.dumps(dict(body), separators=(",", ":")).encode()
        expired = threading.Event()
        with self._lock:
            self._expired = expired
        # connecting is bounded by the client's connect timeout (= the deadline); the timer ends everything after
        timer = threading.Timer(self._timeout_s, self._expire, args=(expired,))
        timer.daemon = True
        timer.start()
        try:
            status, headers, raw = self._post(content)
        except httpx.HTTPError as exc:
            if expired.is_set():
                raise QueryFailedError(
                    f"POST {self._path}: no complete answer within {self._timeout_s:g}s"
                ) from exc
            raise QueryFailedError(f"POST {self._path}: {type(exc).__name__}: {exc}") from exc
        finally:
            timer.cancel()
        return self._answer(status, headers, raw)

    def _post(self, content: bytes) -> tuple[int, httpx.Headers, bytes]:
        with self._client.stream(
            "POST",
            self._path,
            content=content,
            headers={"Content-Type": "application/json"},
            extensions={"trace": self._trace},
        ) as response:
            if response.status_code != 200:
                return response.status_code, response.headers, b""
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise QueryFailedError(
                        f"POST {self._path}: an answer of more than {MAX_ANSWER_BYTES:,} bytes"
                    )
                chunks.append(chunk)
            return response.status_code, response.headers, b"".join(chunks)

    def _answer(self, status: int, headers: httpx.Headers, raw: bytes) -> Answer:
        if status != 200:
            raise QueryFailedError(f"POST {self._path}: HTTP {status}")
        document: Any = None
        if self._needs_body:
            try:
                document = json.loads(raw)
            except ValueError:
                document = None
        prediction = wire.as_text(self._prediction(document, headers))
        if prediction is None:
            where = "JSON answer" if self._needs_body else "answer's headers"
            raise QueryFailedError(f"POST {self._path}: no {self._prediction_field!r} in the {where}")
        score = wire.as_float(self._score(document, headers)) if self._score is not None else None
        return Answer(prediction, score)

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        """httpx's trace hook: keeps each new connection's socket, the one a stuck request would be reading."""
        if event not in _CONNECTED:
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with self._lock:
                self._sockets = [s for s in self._sockets if s.fileno() != -1]
                self._sockets.append(sock)
                if self._expired.is_set():  # connected just as the deadline passed
                    _shut(sock)

    def _expire(self, expired: threading.Event) -> None:
        """At the deadline: shutting the socket down wakes the read blocked on it (closing it would not)."""
        with self._lock:
            expired.set()
            for sock in self._sockets:
                _shut(sock)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpQuery:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: nothing to wake
        sock.shutdown(socket.SHUT_RDWR)


def http_query(
    base_url: str,
    path: str,
    headers: Mapping[str, str],
    timeout_s: float,
    prediction_field: str = "prediction",
    score_field: str | None = None,
) -> HttpQuery:
    """The target's ``path`` as a query function for :func:`~mlchaos.experiments.attacks.boundary.boundary_attack`."""
    return HttpQuery(base_url, path, headers, timeout_s, prediction_field, score_field)
