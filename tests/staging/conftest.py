"""Fixtures for the reference stack's tests: one real stack per module, reset between tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from staging_helpers import TEST_OPTIONS, Gateway, Toxiproxy, running_stack
from support.waiting import wait_until

from mlchaos.staging import StackEndpoints


@pytest.fixture(scope="module")
def stack() -> Iterator[StackEndpoints]:
    """One embedded stack for the whole test module; after it stops, nothing of it may be left."""
    with running_stack(TEST_OPTIONS) as endpoints:
        yield endpoints


@pytest.fixture()
def toxiproxy(stack: StackEndpoints) -> Iterator[Toxiproxy]:
    """Toxiproxy of the module's stack; every proxy is healthy again after the test, and the gateway ready."""
    proxy = Toxiproxy(stack.toxiproxy_url)
    try:
        yield proxy
    finally:
        proxy.reset()
        with Gateway(stack.gateway_url) as gateway:
            wait_until(lambda: gateway.ready().status_code == 200, 15, "the gateway to be ready again")


@pytest.fixture()
def gateway(stack: StackEndpoints) -> Iterator[Gateway]:
    with Gateway(stack.gateway_url) as client:
        yield client
