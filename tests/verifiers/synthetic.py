"""Synthetic recordings with known answers: the verifiers are pure functions, so their truth can be constructed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from mlchaos.experiments.load.store import compact_frame
from mlchaos.experiments.records import PROBE_SCHEMA, REQUEST_COLUMNS, REQUEST_SCHEMA, BreakerState
from mlchaos.experiments.targets import DEFAULT_TIERS
from mlchaos.experiments.verifiers.base import FaultWindow, Phase, PhaseWindow, Recording, empty_probes
from mlchaos.experiments.verifiers.steady_state import SteadyState

T0 = 1_700_000_000.0
OPTIONAL_COLUMNS = tuple(c for c in REQUEST_COLUMNS if c not in ("start", "latency_ms", "status", "tier"))
"""Request columns that are ``None`` unless a test sets them (see RequestRecord)."""
HYPOTHESIS = SteadyState(window=10, min_availability=0.99, min_tier_share={"primary": 0.95}, max_p99_ms=200)

SPECS: list[dict[str, object]] = [
    {"type": "availability"},
    {"type": "breaker", "dependency": "feature_store", "fault": "f"},
    {"type": "calibration"},
    {"type": "error_budget"},
    {"type": "fallback_engaged", "fault": "f", "tiers": ["fallback"]},
    {"type": "fallback_order", "fault": "f"},
    {"type": "latency", "max_ms": 100},
    {"type": "load_shedding", "admitted_p99_ms": 100},
    {"type": "mttd", "fault": "f", "max": 2},
    {"type": "mttr", "fault": "f", "max": 10},
    {"type": "quality", "min_accuracy": 0.8},
    {"type": "steady_state"},
    {"type": "tier_share", "tiers": ["primary", "fallback"], "min": 0.95},
    {"type": "bad_input_handling"},
    {"type": "clean_traffic_unharmed"},
    {"type": "adversarial_robustness", "max_flip_rate": 0.1, "min_flagged": 0.5},
    {"type": "ood_routing", "max_confidence": 0.6},
    {"type": "drift_detected_within", "fault": "shift", "within": 10},
    {"type": "metamorphic"},
    {"type": "gauge", "name": "queue", "max": 100},
]
"""A scenario entry of every verifier mlchaos ships, as small as its model allows (faults named ``f`` and ``shift``)."""


def timeline(
    rate_hz: float, end_s: float, serve: Callable[[float], tuple[int, str | None, float]]
) -> pd.DataFrame:
    """Requests every 1/rate_hz seconds from T0 to T0+end_s; ``serve(t)`` gives (status, tier, latency_ms)."""
    times = np.arange(0.0, end_s, 1.0 / rate_hz)
    rows = [(T0 + t, *serve(t)) for t in times]
    frame = pd.DataFrame(rows, columns=["start", "status", "tier", "latency_ms"])
    for column in OPTIONAL_COLUMNS:
        frame[column] = None
    return frame


def recording(
    requests: pd.DataFrame,
    *,
    faults: tuple[FaultWindow, ...] = (),
    end_s: float = 60.0,
    phases: tuple[tuple[Phase, float, float], ...] | None = None,
    hypothesis: SteadyState = HYPOTHESIS,
    probes: pd.DataFrame | None = None,
    tiers: tuple[str, ...] = DEFAULT_TIERS,
) -> Recording:
    """A recording of ``requests`` on a target whose tier ladder is ``tiers`` (default the glossary's), the requests
    in the dtypes a run's recording is read back with (categorical strings, nullable booleans)."""
    if phases is None:
        phases = (
            (Phase.BASELINE, 0, 10),
            (Phase.FAULT, 10, 20),
            (Phase.RECOVERY, 20, 50),
            (Phase.AFTER, 50, 60),
        )
    return Recording(
        requests=as_recorded(requests),
        probes=empty_probes() if probes is None else probes,
        phases=tuple(PhaseWindow(p, T0 + s, T0 + e) for p, s, e in phases),
        faults=faults,
        started_at=T0,
        ended_at=T0 + end_s,
        steady_state=hypothesis,
        tiers=tiers,
    )


def as_recorded(requests: pd.DataFrame) -> pd.DataFrame:
    """``requests`` through the recording's own reading path (:func:`compact_frame`), missing columns null: a
    verifier is tested on the frame it gets in a run, not on plain object columns."""
    full = requests.reindex(columns=list(REQUEST_COLUMNS))
    return compact_frame(pa.Table.from_pandas(full, schema=REQUEST_SCHEMA, preserve_index=False))


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


def requests_frame(
    start_s: np.ndarray | Sequence[float],
    status: np.ndarray | int = 200,
    tier: np.ndarray | str | None = "primary",
    latency_ms: np.ndarray | float = 10.0,
    **optional: np.ndarray | None,
) -> pd.DataFrame:
    """A request table built column-wise (times in seconds after T0), for streams too big for :func:`timeline`."""
    frame = pd.DataFrame({"start": T0 + np.asarray(start_s, dtype=float)})
    frame["status"], frame["tier"], frame["latency_ms"] = status, tier, latency_ms
    for column in OPTIONAL_COLUMNS:
        frame[column] = optional.get(column)
    return frame


def probes_frame(rows: Sequence[tuple[float, str, str | None, float | None]]) -> pd.DataFrame:
    """Probe samples from ``(seconds after T0, check, value, number)``."""
    frame = pd.DataFrame(rows, columns=["ts", "check", "value", "number"])
    frame["ts"] += T0
    frame["ok"] = frame["value"].isna() | (frame["value"] == "closed")
    frame["latency_ms"], frame["error"] = 1.0, None
    return frame[PROBE_SCHEMA.names].sort_values("ts", kind="stable").reset_index(drop=True)


STATES = [s.value for s in BreakerState]


def breaker_probes(
    dependency: str,
    changes: Sequence[tuple[float, str]],
    *,
    end_s: float = 60.0,
    every_s: float = 0.25,
    start_s: float = 0.0,
    counted_before: float = 0.0,
    states: bool = True,
    counters: bool = True,
) -> pd.DataFrame:
    """What the prober records of a breaker that starts ``closed`` and moves to ``state`` at each ``(t, state)``.

    One sample round every ``every_s`` seconds from ``start_s``: the state (``breaker:<dep>``) and every transition
    counter (``transitions:<dep>:<from>><to>``), which start at ``counted_before`` (the service ran before).
    """
    rows: list[tuple[float, str, str | None, float | None]] = []
    for ts in np.arange(start_s, end_s, every_s):
        state, counts = "closed", Counter[tuple[str, str]]()
        for moment, new in changes:
            if moment <= ts:
                counts[(state, new)] += 1
                state = new
        if states:
            rows.append((float(ts), f"breaker:{dependency}", state, None))
        if counters:
            rows += [
                (
                    float(ts),
                    f"transitions:{dependency}:{old}>{new}",
                    None,
                    counted_before + counts[(old, new)],
                )
                for old in STATES
                for new in STATES
                if old != new
            ]
    return probes_frame(rows)


def canaries(
    n: int,
    *,
    correct: np.ndarray,
    confidence: np.ndarray | None = None,
    tier: str = "primary",
    at_s: float = 0.0,
) -> pd.DataFrame:
    """``n`` answered canaries 1 ms apart from ``at_s``; ``correct[i]`` says whether the i-th prediction is right."""
    label = np.where(np.arange(n) % 2 == 0, "cat", "dog").astype(object)
    wrong = np.where(label == "cat", "dog", "cat")
    prediction = np.where(correct, label, wrong).astype(object)
    return requests_frame(
        at_s + np.arange(n) * 0.001, tier=tier, confidence=confidence, prediction=prediction, label=label
    )


def input_fault(
    fault_id: str, kind: str, injected_s: float = 10.0, reverted_s: float | None = 20.0
) -> FaultWindow:
    """The window of an ML input fault (``corrupted_inputs``, ``distribution_shift``, ...)."""
    return FaultWindow(
        fault_id, kind, T0 + injected_s, None if reverted_s is None else T0 + reverted_s, False
    )


def tagged_requests(start_s: Sequence[float], tags: Sequence[str | None], **columns: object) -> pd.DataFrame:
    """Requests at ``start_s`` tagged ``tags`` (``None`` = clean); other columns as in :func:`requests_frame`
    (a sequence per column, or one value for all)."""
    arrays = {
        name: np.array(value, dtype=object) if isinstance(value, list | tuple) else value
        for name, value in columns.items()
    }
    return requests_frame(start_s, input=np.array(tags, dtype=object), **arrays)  # type: ignore[arg-type]


def health_probes(
    check: str, *, end_s: float = 60.0, every_s: float = 0.25, down: tuple[float, float] | None = None
) -> pd.DataFrame:
    """What the prober records of a health endpoint (``live``, ``ready``): 200 throughout, 503 within ``down``."""
    rows = []
    for ts in np.arange(0.0, end_s, every_s):
        failing = down is not None and down[0] <= ts < down[1]
        rows.append((T0 + float(ts), check, not failing, "503" if failing else "200", 1.0, None, None))
    return pd.DataFrame(rows, columns=PROBE_SCHEMA.names)


def drift_probes(
    alarm: Sequence[tuple[float, float]],
    *,
    end_s: float = 60.0,
    every_s: float = 0.5,
    onsets_before: float = 0.0,
    gauge: bool = True,
    counter: bool = True,
) -> pd.DataFrame:
    """What the prober records of a drift monitor whose alarm is raised during each ``(start, end)`` of ``alarm``
    (seconds after T0): the gauge ``drift:alarm`` and the onset counter ``drift:alarms_total``."""
    rows = []
    for ts in np.arange(0.0, end_s, every_s):
        on = any(start <= ts < end for start, end in alarm)
        onsets = onsets_before + sum(1 for start, _ in alarm if start <= ts)
        if gauge:
            rows.append(
                (T0 + float(ts), "drift:alarm", not on, "1" if on else "0", 1.0, None, 1.0 if on else 0.0)
            )
        if counter:
            rows.append((T0 + float(ts), "drift:alarms_total", True, None, 1.0, None, float(onsets)))
    return pd.DataFrame(rows, columns=PROBE_SCHEMA.names)


def gauge_probes(
    name: str,
    value: Callable[[float], float | None],
    *,
    end_s: float = 60.0,
    every_s: float = 0.5,
    error: str = "signals.gauges: no series",
) -> pd.DataFrame:
    """What the prober records of the declared gauge ``name``: ``gauge:<name>`` with ``value(t)`` as its number
    every ``every_s`` seconds (t after T0); where ``value`` gives ``None`` the reading failed with ``error``."""
    rows = []
    for ts in np.arange(0.0, end_s, every_s):
        number = value(float(ts))
        failed = None if number is not None else error
        rows.append((T0 + float(ts), f"gauge:{name}", number is not None, None, 1.0, failed, number))
    return pd.DataFrame(rows, columns=PROBE_SCHEMA.names)
