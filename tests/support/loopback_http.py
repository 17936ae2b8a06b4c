"""A small HTTP server on 127.0.0.1 in a thread of the test process, for the services a test plays itself: a
webhook receiver, an OTLP collector, Grafana's annotation API.

``with serving(Handler) as url:`` starts it on a free port and yields ``http://127.0.0.1:PORT``; leaving the block
stops it and joins its thread (bounded), whatever the test did.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STOP_WITHIN_S = 10.0


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True  # a handler a test keeps waiting never holds up the shutdown
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=STOP_WITHIN_S)


def answer(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    """Send ``body`` as the whole answer, with its length (keep-alive clients wait for it otherwise)."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
