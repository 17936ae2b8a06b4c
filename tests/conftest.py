"""What each test needs beyond the Python process, as markers; and the guard that keeps `make check` honest.

`make test` (CI) runs every test. `make check`, the inner loop, runs the tests that need none of these:

    stack       the embedded reference stack or riskd (supervisord, redis-server, toxiproxy-server)
    cluster     the Kubernetes test environment (etcd, kube-apiserver, kwok, helm)
    prometheus  a real Prometheus server
    browser     headless Chromium
    e2e         the `mlchaos` command run end to end in a subprocess
    load        the load generator (Locust in child processes) sending real traffic for seconds
    lint        ruff, mypy --strict and lint-imports run from a test (`make check` runs them directly, once)
    realnode    a real single-node cluster (kubelet on containerd, kube-proxy, CoreDNS) and the images it runs

A test declares a need in one of three ways: ``pytestmark = pytest.mark.stack`` or ``@pytest.mark.stack`` in its
file; asking for a fixture listed in FIXTURE_NEEDS; or sitting in a folder, file or test listed in PATH_NEEDS (both
in support/needs.py, applied here). Under `make check` (MLCHAOS_FAST_LOOP=1) a selected test that starts one of
these programs anyway fails saying which marker it lacks (support/fast_loop.py), so the selection cannot silently
rot. tests/test_fast_loop.py holds the markers, the tables and the Makefile's selection against each other.
"""

from __future__ import annotations

import contextlib

import pytest
from support import fast_loop
from support.needs import needs_of


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for marker in sorted(needs_of(item)):
            item.add_marker(marker)


_GUARD = contextlib.ExitStack()


def pytest_configure(config: pytest.Config) -> None:
    if fast_loop.enabled():
        _GUARD.enter_context(fast_loop.guarding())


def pytest_unconfigure(config: pytest.Config) -> None:
    _GUARD.close()
