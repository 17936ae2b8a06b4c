"""A real embedded stack for the engine tests, started outside the runs (see engine_helpers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlchaos.staging.endpoints import StackEndpoints
from mlchaos.staging.options import BreakerOptions, StackOptions
from mlchaos.staging.stack import EmbeddedStack


@pytest.fixture(scope="module")
def stack() -> Iterator[StackEndpoints]:
    with EmbeddedStack(StackOptions(breaker=BreakerOptions(recovery_timeout_s=0.5))) as running:
        yield running.endpoints
