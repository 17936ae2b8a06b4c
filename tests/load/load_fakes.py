"""The load tests' fake target: a real HTTP server on 127.0.0.1 that can be told to misbehave, the small dataset
the tests send, and a bounded poll. Imported by plain name (``from load_fakes import ...``) by conftest and tests
alike."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mlchaos.experiments.load.runner import LoadRunner
from mlchaos.experiments.load.spec import LoadSpec, RequestTemplate

OK_BODY = json.dumps(
    {"tier": "primary", "confidence": 0.9, "prediction": "legit", "score": 0.1, "review": False}
).encode()
NOT_JSON_ERROR = b"bad request"
NESTED_BODY = json.dumps(
    {"outputs": [{"data": [0.12, 0.88]}], "result": {"label": "fraud"}, "review": True, "shed": True}
).encode()
"""The ``nested`` mode's answer: unlike the reference stack's, as a team's service may answer (with the reference
stack's ``review`` and ``shed`` fields too, which a mapping that does not name them must not read)."""
NESTED_HEADERS = {"X-Served-By": "gold", "X-Review": "1", "X-Shed": "1"}


@dataclass
class FakeTarget:
    """What the server does next (``mode``) and what it has seen (``bodies``)."""

    url: str = ""
    mode: str = "ok"
    """``ok``: 200 + prediction; ``error``: 500; ``close``: drop the connection unanswered; ``slow``: answer
    after ``delay_s``; ``nested``: 200 + :data:`NESTED_BODY` and :data:`NESTED_HEADERS`; ``redirect``: 307 to
    ``location``."""
    delay_s: float = 1.0
    location: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    bodies: list[Any] = field(default_factory=list)
    """Every body received, decoded (or the raw bytes when they are not JSON)."""
    raw: list[tuple[bytes, str]] = field(default_factory=list)
    """Every body received as bytes, with its Content-Type."""
    authorizations: list[str | None] = field(default_factory=list)
    """Every request's Authorization header (``None`` when it had none)."""

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.bodies)

    def reset(self) -> None:
        with self.lock:
            self.mode, self.delay_s, self.location = "ok", 1.0, ""
            self.bodies.clear()
            self.raw.clear()
            self.authorizations.clear()


def handler_for(target: FakeTarget) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real gateway

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                decoded: Any = json.loads(raw)
            except ValueError:  # corrupted inputs: answered 400, plain text for an empty body, else JSON
                decoded = raw
            with target.lock:
                target.bodies.append(decoded)
                target.raw.append((raw, self.headers.get("Content-Type", "")))
                target.authorizations.append(self.headers.get("Authorization"))
                mode, delay_s, location = target.mode, target.delay_s, target.location
            if mode == "close":
                self.close_connection = True
                return
            if mode == "slow":
                time.sleep(delay_s)
            status, body = (500, b'{"error": "boom"}') if mode == "error" else (200, OK_BODY)
            headers = {"X-Tier": "fallback"}
            if mode == "nested":
                body, headers = NESTED_BODY, NESTED_HEADERS
            elif mode == "redirect" and self.path != "/redirected":
                status, body, headers = 307, b'{"moved": true}', {"Location": location}
            if decoded is raw:
                status, body = 400, NOT_JSON_ERROR if not raw else b'{"error": "not JSON"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients killed mid-request (the point of several tests) are not server errors


DATASET = tuple(RequestTemplate(body={"id": i, "amount": 10 * i}, label=f"L{i}") for i in range(5))


def run_to_end(runners: Callable[..., LoadRunner], spec: LoadSpec, timeout_s: float = 30.0) -> LoadRunner:
    """Start a load and wait until it ended cleanly (exit 0) by itself."""
    runner = runners(spec)
    runner.start()
    assert runner.wait(timeout_s=timeout_s) == 0
    return runner
