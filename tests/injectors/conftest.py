from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.staging.endpoints import StackEndpoints
from mlchaos.staging.options import StackOptions
from mlchaos.staging.stack import EmbeddedStack


@pytest.fixture(scope="module")
def stack() -> Iterator[StackEndpoints]:
    with EmbeddedStack(StackOptions()) as running:
        yield running.endpoints


@pytest.fixture
def target(stack: StackEndpoints) -> TargetEndpoints:
    return TargetEndpoints(
        service_url=stack.gateway_url,
        toxiproxy_url=stack.toxiproxy_url,
        supervisor_url=stack.supervisor_url,
        proxies=dict(stack.proxies),
        programs=stack.programs,
    )
