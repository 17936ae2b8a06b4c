"""Fixtures for the signal tests (the servers themselves are in signal_services.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from signal_services import Service, serve
from support.prometheus_server import Prometheus, run_prometheus


@pytest.fixture
def service() -> Iterator[Service]:
    yield from serve()


@pytest.fixture(scope="module")
def scraped() -> Iterator[Service]:
    """The service a module's Prometheus scrapes (module-scoped: one Prometheus per test module)."""
    yield from serve()


@pytest.fixture(scope="module")
def prometheus(scraped: Service) -> Iterator[Prometheus]:
    """A real Prometheus scraping ``scraped`` every second; stopped and its directory removed afterwards."""
    yield from run_prometheus(scraped.url)
