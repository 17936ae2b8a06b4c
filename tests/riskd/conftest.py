"""Fixtures for riskd's own tests: one running stack per module, healed between tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.waiting import wait_until

from riskd.config import CONFIG_FILE
from riskd.stack import RiskdEndpoints, RiskdStack
from riskd.testing import RiskApi, Toxiproxy, assert_gone


@pytest.fixture(scope="module")
def stack() -> Iterator[RiskdStack]:
    riskd = RiskdStack()
    riskd.start(warm=True)  # past the cold start: these tests time answers
    endpoints = riskd.endpoints
    assert (endpoints.workdir / CONFIG_FILE).is_file()
    try:
        yield riskd
    finally:
        riskd.stop()
    assert_gone(endpoints)


@pytest.fixture()
def endpoints(stack: RiskdStack) -> RiskdEndpoints:
    return stack.endpoints


@pytest.fixture()
def api(endpoints: RiskdEndpoints) -> Iterator[RiskApi]:
    with RiskApi(endpoints.service_url) as client:
        yield client


@pytest.fixture()
def toxiproxy(endpoints: RiskdEndpoints, api: RiskApi) -> Iterator[Toxiproxy]:
    """toxiproxy of the module's stack; afterwards every proxy is healthy and both breakers closed again."""
    proxy = Toxiproxy(endpoints.toxiproxy_url)
    try:
        yield proxy
    finally:
        proxy.reset()

        def healed() -> bool:
            api.score()  # breakers move only on traffic
            return api.circuit("profiles") == 0 and api.circuit("scorer") == 0

        wait_until(healed, 15.0, "both breakers to close again", interval_s=0.2)
