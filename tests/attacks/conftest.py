"""A real embedded stack for the attack's end-to-end test (module scope: it takes seconds to start)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlchaos.staging.endpoints import StackEndpoints
from mlchaos.staging.options import StackOptions
from mlchaos.staging.stack import EmbeddedStack


@pytest.fixture(scope="module")
def stack() -> Iterator[StackEndpoints]:
    with EmbeddedStack(StackOptions()) as running:
        yield running.endpoints
