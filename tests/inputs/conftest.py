"""Fixtures for the request-schema and input-generator tests: the reference gateway, for the OpenAPI document it
serves (started only by the tests that ask for it), and a loopback service answering what a test tells it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_service import FakeService, serving

from mlchaos.staging.options import StackOptions
from mlchaos.staging.stack import EmbeddedStack


@pytest.fixture(scope="module")
def gateway_url() -> Iterator[str]:
    with EmbeddedStack(StackOptions()) as running:
        yield running.endpoints.gateway_url


@pytest.fixture
def service() -> Iterator[FakeService]:
    with serving() as running:
        yield running
