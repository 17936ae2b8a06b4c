"""Fixtures for the load tests: a real HTTP target on 127.0.0.1 that can be told to misbehave, and runners
that are always stopped.

The target is a ``ThreadingHTTPServer`` in a thread of the test process. That is fine because Locust never
runs here (it runs in the child the runner spawns), and a server in-process lets tests flip its behaviour
mid-run and read its own count of what it received — the ground truth records are checked against.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mlchaos.experiments.load.runner import LoadRunner
from mlchaos.experiments.load.spec import LoadSpec, RequestTemplate

OK_BODY = json.dumps({"tier": "primary", "confidence": 0.9, "prediction": "legit"}).encode()


@dataclass
class FakeTarget:
    """What the server does next (``mode``) and what it has seen (``bodies``)."""

    url: str = ""
    mode: str = "ok"
    """``ok``: 200 + prediction; ``error``: 500; ``close``: drop the connection unanswered; ``slow``: answer
    after ``delay_s``."""
    delay_s: float = 1.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    bodies: list[Any] = field(default_factory=list)

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.bodies)

    def reset(self) -> None:
        with self.lock:
            self.mode, self.delay_s = "ok", 1.0
            self.bodies.clear()


def _handler(target: FakeTarget) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real gateway

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with target.lock:
                target.bodies.append(json.loads(raw))
                mode, delay_s = target.mode, target.delay_s
            if mode == "close":
                self.close_connection = True
                return
            if mode == "slow":
                time.sleep(delay_s)
            status, body = (500, b'{"error": "boom"}') if mode == "error" else (200, OK_BODY)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Tier", "fallback")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients killed mid-request (the point of several tests) are not server errors


@pytest.fixture(scope="session")
def _server() -> Iterator[FakeTarget]:
    target = FakeTarget()
    server = _QuietServer(("127.0.0.1", 0), _handler(target))
    target.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield target
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def target(_server: FakeTarget) -> FakeTarget:
    _server.reset()
    return _server


@pytest.fixture
def free_port() -> int:
    """A port nothing listens on (bound, then released): connections to it are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


DATASET = tuple(RequestTemplate(body={"id": i, "amount": 10 * i}, label=f"L{i}") for i in range(5))


def _make_spec(base_url: str, **overrides: Any) -> LoadSpec:
    values: dict[str, Any] = {
        "base_url": base_url,
        "users": 2,
        "spawn_rate": 50,
        "duration_s": 1.5,
        "wait_min_s": 0.01,
        "wait_max_s": 0.02,
        "request_timeout_s": 2.0,
        "stop_grace_s": 1.0,
        "flush_interval_s": 0.1,
        "requests": DATASET,
    }
    values.update(overrides)
    return LoadSpec(**values)


@pytest.fixture
def make_spec() -> Callable[..., LoadSpec]:
    """``make_spec(base_url, **overrides)``: a short, gentle load (2 users, 1.5 s, 5-row dataset)."""
    return _make_spec


@pytest.fixture
def runners() -> Iterator[Callable[..., LoadRunner]]:
    """Make LoadRunners that are stopped at teardown whatever the test did: no child outlives its test."""
    made: list[LoadRunner] = []

    def make(spec: LoadSpec, **kwargs: Any) -> LoadRunner:
        runner = LoadRunner(spec, **kwargs)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.stop(timeout_s=5)
