"""Fixtures of the target-tools tests.

The stacks are started by the modules that need them, one per module: test_reference_stack.py (the embedded
reference stack) and test_riskd.py (riskd, another team's service); test_offline.py needs none.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any name lookup or connection fails the test: what runs under it must not send anything."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("Must not be called: nothing may be sent")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    yield
