"""The upstreams' HTTP layer: the standard library's threading HTTP server, JSON in and out, keep-alive on.

Deliberately not the gateway's stack (Starlette/uvicorn): the other team's model and profile servers are
plain ``http.server`` processes, one thread per connection.
"""

from __future__ import annotations

import json
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from riskd.config import HOST


class JsonHandler(BaseHTTPRequestHandler):
    # HTTP/1.1: keep-alive, so risk-api's pooled connections through toxiproxy stay open between requests.
    protocol_version = "HTTP/1.1"
    server_version = "riskd"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; with Nagle on, the second waits for the peer's delayed ACK
        # (40 ms on Linux) on every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send_json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_json(self) -> Any:
        """The request's JSON body; raises ValueError if there is none or it is not JSON."""
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) if length else b"")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would drown the program logs


def serve(handler: type[JsonHandler], port: int) -> None:
    server = ThreadingHTTPServer((HOST, port), handler)
    server.daemon_threads = True  # SIGTERM from supervisord must not wait for idle keep-alive connections
    server.serve_forever()
