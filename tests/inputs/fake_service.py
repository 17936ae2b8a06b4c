"""A loopback HTTP server that answers each GET path as a test tells it, and counts the POSTs it refuses — a
service's OpenAPI document and readiness, without a model behind them. Imported by plain name."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, str], bytes]
"""``(status, headers, body)``."""


@dataclass
class FakeService:
    url: str = ""
    answers: dict[str, Answer] = field(default_factory=dict)
    """Path → what a GET of it is answered; other paths get a 404. ``/slow`` dribbles a body for 10 s."""
    posts: int = 0
    """POSTs received (answered 405): a run refused before its load sends none."""


@contextlib.contextmanager
def serving() -> Iterator[FakeService]:
    service = FakeService()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/slow":
                self.send_response(200)
                self.end_headers()
                for _ in range(100):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)
                return
            status, headers, body = service.answers.get(self.path, (404, {}, b"{}"))
            self._answer(status, headers, body)

        def do_POST(self) -> None:
            service.posts += 1
            self._answer(405, {}, b'{"error": "no model here"}')

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    service.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield service
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
