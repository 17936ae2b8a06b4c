"""Fixtures for the verifier tests; the synthetic-recording builders are in synthetic.py."""

from __future__ import annotations

import pytest
from synthetic import fault, recording, timeline

from mlchaos.experiments.verifiers.base import Recording


@pytest.fixture
def outage_then_recovery() -> Recording:
    """Primary until 10 s; fallback from 10.5 s (breaker needs 0.5 s); primary again 3 s after the 20 s revert."""

    def serve(t: float) -> tuple[int, str | None, float]:
        if t < 10 or t >= 23:
            return 200, "primary", 20.0
        if t < 10.5:
            return 200, "static", 150.0
        return 200, "fallback", 8.0

    return recording(timeline(100, 60, serve), faults=(fault(),))
