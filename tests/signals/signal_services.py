"""A server for the signal tests: a loopback service whose /metrics text the test sets (the real Prometheus of
:mod:`prometheus_server` scrapes it every second).

Every server here listens on 127.0.0.1 only; every wait is bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Service(ThreadingHTTPServer):
    """Answers 200 on every health path and ``metrics`` on ``/metrics``; remembers every path asked for.

    Paths for the prober's failure modes: ``/moved`` redirects, ``/drip`` dribbles a valid answer one byte at a
    time (each byte well within a per-read timeout, the whole far beyond a total deadline), ``/hang`` sends
    headers and then nothing.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.metrics = ""
        self.metrics_status = 200
        self.paths: list[str] = []
        self.release = threading.Event()
        """Set at shutdown: ends the /hang and /drip answers still being served."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Service

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path in ("/drip", "/hang"):
            body = b"ok" * 50
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for byte in body if self.path == "/drip" else b"":
                if self.server.release.wait(0.05):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            self.server.release.wait(30)  # /hang: nothing more, until the test is over
        else:
            metrics = self.path == "/metrics"
            text = self.server.metrics if metrics else '{"status": "ok"}'
            self.send_response(self.server.metrics_status if metrics else 200)
            self.send_header("Content-Type", "text/plain; version=0.0.4" if metrics else "application/json")
            self.send_header("Content-Length", str(len(text.encode())))
            self.end_headers()
            self.wfile.write(text.encode())

    def log_message(self, *args: object) -> None:  # quiet test output
        pass


def serve() -> Iterator[Service]:
    service = Service()
    thread = threading.Thread(target=service.serve_forever, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        service.release.set()
        service.shutdown()
        service.server_close()
        thread.join(timeout=5)
