"""A test endpoint that is never the bottleneck: one fixed JSON answer to every request, as fast as asyncio goes.

    .venv/bin/python bench/fast_endpoint.py [--port 0]

It prints ``listening on http://127.0.0.1:PORT`` once it serves, then serves until SIGTERM/SIGINT. Every request
(any method, any path; a body is read and discarded by its ``Content-Length``) gets ``200`` and :data:`ANSWER`,
whose tier, confidence and prediction are where ``bench/fast_target.yaml`` declares them — so mlchaos's load
reads them exactly as it reads a real service's answers. HTTP/1.1 keep-alive and pipelining; ``Connection:
close`` is honoured. Only loopback is ever bound.

Why not the reference stack: its gateway (FastAPI, two model calls) saturates at about 72 requests/s on 2 cores,
so every load generator measured against it looks the same. This server does no HTTP framework work at all: it
finds the end of each request's head, skips its body and writes a prebuilt response. Measured alone with wrk
(1 thread, 8 connections, the benchmark's POST body) on the 2-core benchmark machine: 115,000-125,000 requests/s
with its one core busy, i.e. about 8 µs of CPU per request; Locust on one core sends under 10,000.

Stdlib only, so bench/ needs nothing beyond mlchaos's own dependencies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import sys

HOST = "127.0.0.1"
ANSWER: dict[str, object] = {
    "route": "tier-a",
    "result": {"label": "legit", "confidence": 0.93, "scores": [0.93, 0.07]},
    "model": {"name": "bench-fixed", "version": "1"},
    "request_id": "00000000-0000-0000-0000-000000000000",
}
"""The fixed answer (about the size of a real model service's); bench/fast_target.yaml says where its fields are."""
MAX_HEAD_BYTES = 64 * 1024
"""A request head longer than this is not a request this server answers: the connection is closed."""
CONTENT_LENGTH = b"\r\ncontent-length:"


def response_bytes(answer: dict[str, object] = ANSWER) -> bytes:
    body = json.dumps(answer, separators=(",", ":")).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class FixedAnswer(asyncio.Protocol):
    """One connection: answers each complete request in the buffer with the same bytes."""

    def __init__(self, response: bytes) -> None:
        self._response = response
        self._buffer = bytearray()
        self._skip = 0  # body bytes of the current request still to arrive
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        answers = 0
        close = False
        while True:
            if self._skip:
                taken = min(self._skip, len(buffer))
                del buffer[:taken]
                self._skip -= taken
                if self._skip:
                    break
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    close = True
                break
            head = bytes(buffer[:end]).lower()
            del buffer[: end + 4]
            self._skip = _content_length(head)
            answers += 1
            if b"\r\nconnection: close" in head:
                close = True
                break
        assert self._transport is not None
        if answers:
            self._transport.write(self._response * answers)
        if close:
            self._transport.close()


def _content_length(head: bytes) -> int:
    """The ``Content-Length`` of a lower-cased request head; 0 without one (or with a garbled one)."""
    at = head.find(CONTENT_LENGTH)
    if at < 0:
        return 0
    start = at + len(CONTENT_LENGTH)
    end = head.find(b"\r\n", start)
    try:
        return max(0, int(head[start:] if end < 0 else head[start:end]))
    except ValueError:
        return 0


def listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(1024)
    return sock


def serve(sock: socket.socket, ready: str = "") -> None:
    """Serve on ``sock`` until SIGTERM/SIGINT; print ``ready`` (if any) once serving."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        response = response_bytes()
        server = await loop.create_server(lambda: FixedAnswer(response), sock=sock)
        if ready:
            print(ready, flush=True)
        async with server:
            await stop.wait()

    asyncio.run(main())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: any free one)")
    args = parser.parse_args(argv)
    sock = listening_socket(args.port)
    serve(sock, ready=f"listening on http://{HOST}:{sock.getsockname()[1]}")


if __name__ == "__main__":
    main(sys.argv[1:])
