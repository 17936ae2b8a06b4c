"""Hostile HTTP targets for tests/security, on 127.0.0.1: a raw socket server in a thread of the test, whose
answer is written by a function of the test (dribbled a byte at a time, never sent, sent without end).

A raw socket, not http.server: the attacks are in what goes on the wire (half a status line, a body with no
length), which http.server would tidy up. Every connection's thread ends when the client is gone or the server
closes; nothing outlives the test.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

Respond = Callable[[socket.socket, threading.Event], None]
"""Writes an answer on the connection (the request is already read); returns when done or the event is set."""


@dataclass
class RawServer:
    url: str
    stop: threading.Event
    requests: list[bytes] = field(default_factory=list)
    """The head of every request received (request line and headers)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.requests)


@contextlib.contextmanager
def raw_server(respond: Respond) -> Iterator[RawServer]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    server = RawServer(f"http://127.0.0.1:{listener.getsockname()[1]}", threading.Event())
    threads: list[threading.Thread] = []

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5.0)
            while not server.stop.is_set():  # keep-alive: one request after another
                head = _read_request(conn)
                if head is None:
                    return
                with server.lock:
                    server.requests.append(head)
                try:
                    respond(conn, server.stop)
                except OSError:  # the client gave up: what the attacks expect
                    return

    def accept() -> None:
        while not server.stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=serve, args=(conn,), daemon=True)
            thread.start()
            threads.append(thread)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield server
    finally:
        server.stop.set()
        acceptor.join(5)
        listener.close()
        for thread in threads:
            thread.join(5)


def _read_request(conn: socket.socket) -> bytes | None:
    """The request's head, its body (Content-Length) read and dropped; ``None`` when the client closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            piece = conn.recv(65536)
        except OSError:
            return None
        if not piece:
            return None
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            return None
        body += piece
    return head


def dribble(data: bytes, every_s: float) -> Respond:
    """Sends ``data`` one byte every ``every_s`` seconds: each read of the client gets a byte well within any
    per-read timeout, so only a total deadline ends the request."""

    def respond(conn: socket.socket, stop: threading.Event) -> None:
        for byte in data:
            conn.sendall(bytes([byte]))
            if stop.wait(every_s):
                return

    return respond


def answer(body: bytes, content_type: str = "application/json", status: str = "200 OK") -> Respond:
    """A well-formed, kept-alive answer."""
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()

    def respond(conn: socket.socket, _stop: threading.Event) -> None:
        conn.sendall(head + body)

    return respond
