"""The publishing tests' webhook receiver: a real HTTP server on 127.0.0.1 (tests/support/webhook_receiver.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.webhook_receiver import Receiver, receiving


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as state:
        yield state
