"""Synthetic recordings with known answers: the verifiers are pure functions, so their truth can be constructed."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from mlchaos.experiments.verifiers.base import FaultWindow, Phase, PhaseWindow, Recording, empty_probes
from mlchaos.experiments.verifiers.steady_state import SteadyState

T0 = 1_700_000_000.0
HYPOTHESIS = SteadyState(window=10, min_availability=0.99, min_tier_share={"primary": 0.95}, max_p99_ms=200)


def timeline(
    rate_hz: float, end_s: float, serve: Callable[[float], tuple[int, str | None, float]]
) -> pd.DataFrame:
    """Requests every 1/rate_hz seconds from T0 to T0+end_s; ``serve(t)`` gives (status, tier, latency_ms)."""
    times = np.arange(0.0, end_s, 1.0 / rate_hz)
    rows = [(T0 + t, *serve(t)) for t in times]
    frame = pd.DataFrame(rows, columns=["start", "status", "tier", "latency_ms"])
    for column in ("confidence", "prediction", "error", "label"):
        frame[column] = None
    return frame


def recording(
    requests: pd.DataFrame,
    *,
    faults: tuple[FaultWindow, ...] = (),
    end_s: float = 60.0,
    phases: tuple[tuple[Phase, float, float], ...] | None = None,
    hypothesis: SteadyState = HYPOTHESIS,
) -> Recording:
    if phases is None:
        phases = (
            (Phase.BASELINE, 0, 10),
            (Phase.FAULT, 10, 20),
            (Phase.RECOVERY, 20, 50),
            (Phase.AFTER, 50, 60),
        )
    return Recording(
        requests=requests,
        probes=empty_probes(),
        phases=tuple(PhaseWindow(p, T0 + s, T0 + e) for p, s, e in phases),
        faults=faults,
        started_at=T0,
        ended_at=T0 + end_s,
        steady_state=hypothesis,
    )


def fault(
    fault_id: str = "f", injected_s: float = 10.0, reverted_s: float | None = 20.0, heals_itself: bool = False
) -> FaultWindow:
    return FaultWindow(
        fault_id,
        "feature_store_outage",
        T0 + injected_s,
        None if reverted_s is None else T0 + reverted_s,
        heals_itself,
    )


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
