"""A webhook receiver for the tests: a real HTTP server on 127.0.0.1 (a thread of the test process) standing in for
Slack. It keeps every JSON body it gets and answers as told (``status``, a ``delay_s`` first, a redirect).

``from support.webhook_receiver import SECRET_PATH, Receiver, receiving``: used by tests/publish and the suite test.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from support.loopback_http import serving

SECRET_PATH = "/services/T0001/B0002/s3cr3tW3bh00kPath"
"""Like a Slack incoming-webhook URL's, the receiver's path is its credential: it must never be written anywhere."""


@dataclass
class Receiver:
    """A webhook endpoint: every JSON body it got, and how it answers (``status``, or ``delay_s`` first)."""

    url: str
    bodies: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    status: int = 200
    delay_s: float = 0.0
    redirect_to: str | None = None


@contextmanager
def receiving() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's naming
            length = int(self.headers.get("Content-Length", "0"))
            state.paths.append(self.path)
            state.bodies.append(json.loads(self.rfile.read(length)))
            time.sleep(state.delay_s)
            self.send_response(state.status)
            if state.redirect_to is not None:
                self.send_header("Location", state.redirect_to)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:  # quiet: the tests assert what they need
            pass

    with serving(Handler) as url:
        state.url = f"{url}{SECRET_PATH}"
        yield state
