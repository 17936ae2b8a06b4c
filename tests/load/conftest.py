"""Fixtures for the load tests: a real HTTP target on 127.0.0.1 that can be told to misbehave, and runners
that are always stopped.

The target is a ``ThreadingHTTPServer`` in a thread of the test process. That is fine because Locust never
runs here (it runs in the child the runner spawns), and a server in-process lets tests flip its behaviour
mid-run and read its own count of what it received — the ground truth records are checked against.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from load_fakes import DATASET, FakeTarget, QuietServer, handler_for

from mlchaos.experiments.load.runner import LoadRunner
from mlchaos.experiments.load.spec import LoadSpec


@pytest.fixture(scope="session")
def _server() -> Iterator[FakeTarget]:
    target = FakeTarget()
    server = QuietServer(("127.0.0.1", 0), handler_for(target))
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
