"""The run's time series, resampled to fixed bins for the timeline chart.

A one-hour run at 500 rps records 1.8 M requests; drawn point by point that is a chart of tens of megabytes.
Resampling to at most :data:`MAX_BINS` bins per series bounds the chart's size whatever the run's length or rate,
and per-bin aggregates (rate, error share, percentiles, tier shares, the worst breaker state) keep what matters:
a short outage still shows, because a bin takes its *worst* breaker state and its own p99.

Everything is vectorised (one sort for all the per-bin percentiles), so a million requests take well under a
second. Times are seconds relative to the run's zero (the baseline's start), as on the plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mlchaos.experiments.verifiers.base import Recording

MAX_BINS = 600
MIN_BIN_S = 0.5
"""Finer bins than this show sampling noise, not behaviour: a bin should hold tens of requests."""
FILL_BINS = 2
"""A breaker keeps its last sampled state over this many bins without a sample; beyond that it is unknown."""
NO_ANSWER = "no answer"
"""The tier band of non-2xx responses, so the tier shares add up to all requests."""
UNKNOWN_TIER = "unknown tier"
"""The tier band of 2xx answers whose tier is not on the target's ladder (or missing). Tier names have no spaces,
so neither band can be mistaken for a tier."""
STATE_RANK = {"closed": 0, "half_open": 1, "open": 2}
UNKNOWN = "unknown"
READY, NOT_READY = "ready", "not ready"

Band = tuple[float, float, str]
"""``(start, width, state)`` of one stretch of a breaker or readiness band."""


@dataclass(frozen=True)
class Timeline:
    starts: np.ndarray
    """Start of each bin."""
    width: float
    rps: np.ndarray
    error_rate: np.ndarray
    """Share of requests not available (5xx, timeout, refused) per bin; NaN for bins without requests."""
    p50_ms: np.ndarray
    p99_ms: np.ndarray
    tiers: dict[str, np.ndarray] = field(default_factory=dict)
    """Share of *all* requests in each bin per tier that answered any, in ladder order (best first), then
    :data:`UNKNOWN_TIER` if any answer had one, then :data:`NO_ANSWER`; they add up to 1 where there are any."""
    breakers: dict[str, list[Band]] = field(default_factory=dict)
    ready: list[Band] = field(default_factory=list)
    ladder: tuple[str, ...] = ()
    """The target's tier ladder, best first: the chart colours a tier by its place on it."""
    gauges: dict[str, np.ndarray] = field(default_factory=dict)
    """Each gauge the probes sampled (``gauge:<name>``, from ``signals.gauges``), by name: the mean of its
    numbers per bin, carried over :data:`FILL_BINS` bins without one (as breaker states are), else NaN."""

    @property
    def centers(self) -> np.ndarray:
        return self.starts + self.width / 2

    @property
    def span(self) -> tuple[float, float]:
        return float(self.starts[0]), float(self.starts[-1] + self.width)


def _bins(recording: Recording, zero: float) -> tuple[float, float, int]:
    times = recording.requests["start"].to_numpy(dtype=float)
    lo = min(recording.started_at, float(times.min())) if len(times) else recording.started_at
    hi = max(recording.ended_at, float(times.max())) if len(times) else recording.ended_at
    lo, hi = lo - zero, max(hi - zero, lo - zero + MIN_BIN_S)
    count = max(1, min(MAX_BINS, math.ceil((hi - lo) / MIN_BIN_S)))
    return lo, (hi - lo) / count, count


def _index(times: np.ndarray, start: float, width: float, count: int) -> np.ndarray:
    return np.clip(((times - start) // width).astype(np.int64), 0, count - 1)


def _percentiles(
    values: np.ndarray, index: np.ndarray, count: int, qs: tuple[float, ...]
) -> list[np.ndarray]:
    """Per-bin percentiles (linear interpolation, as numpy's default) from one sort of all values."""
    order = np.lexsort((values, index))
    ordered = values[order]
    sizes = np.bincount(index, minlength=count)
    firsts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    result = []
    for q in qs:
        position = firsts + (sizes - 1) * q / 100.0
        low = np.floor(position).astype(np.int64)
        high = np.ceil(position).astype(np.int64)
        valid = sizes > 0
        out = np.full(count, np.nan)
        lo_v, hi_v = ordered[low[valid]], ordered[high[valid]]
        out[valid] = lo_v + (hi_v - lo_v) * (position[valid] - low[valid])
        result.append(out)
    return result


def _runs(ranks: np.ndarray, starts: np.ndarray, width: float, names: dict[int, str]) -> list[Band]:
    """Consecutive equal values as bands; bins ranked below 0 (before the first sample) have none."""
    bands: list[Band] = []
    if not len(ranks):
        return bands
    change = np.flatnonzero(np.diff(ranks)) + 1
    for begin, end in zip(np.concatenate(([0], change)), np.concatenate((change, [len(ranks)])), strict=True):
        rank = int(ranks[begin])
        if rank >= -1:
            bands.append((float(starts[begin]), float((end - begin) * width), names[rank]))
    return bands


def _filled(worst: np.ndarray) -> np.ndarray:
    """Carry the last state over short gaps; mark longer gaps unknown (-1); keep -2 before the first sample."""
    seen = np.flatnonzero(worst >= 0)
    if not len(seen):
        return np.full(len(worst), -2)
    last = np.maximum.accumulate(np.where(worst >= 0, np.arange(len(worst)), -1))
    filled = np.where(last >= 0, worst[np.maximum(last, 0)], -2)
    gap = np.arange(len(worst)) - last
    filled = np.where((last >= 0) & (gap > FILL_BINS), -1, filled)
    return np.where(worst == -1, -1, filled)  # a sample that saw no state (metrics unreadable) stays unknown


def _state_bands(
    probes: pd.DataFrame, check: str, rank: dict[str, int], zero: float, grid: Timeline
) -> list[Band]:
    rows = probes[probes["check"] == check]
    count = len(grid.starts)
    worst = np.full(count, -2, dtype=np.int64)
    if not rows.empty:
        values = rows["value"].astype(object).map(lambda v: rank.get(str(v), -1)).to_numpy(dtype=np.int64)
        index = _index(rows["ts"].to_numpy(dtype=float) - zero, grid.starts[0], grid.width, count)
        np.maximum.at(worst, index, values)
    names = {-1: UNKNOWN, **{r: s for s, r in rank.items()}}
    return _runs(_filled(worst), grid.starts, grid.width, names)


def _gauge_means(probes: pd.DataFrame, check: str, zero: float, grid: Timeline) -> np.ndarray:
    rows = probes[probes["check"] == check]
    numbers = rows["number"].to_numpy(dtype=float)
    finite = np.isfinite(numbers)  # failed readings have none; an infinite one cannot be drawn
    count = len(grid.starts)
    index = _index(rows["ts"].to_numpy(dtype=float)[finite] - zero, grid.starts[0], grid.width, count)
    sums = np.bincount(index, weights=numbers[finite], minlength=count)
    sizes = np.bincount(index, minlength=count)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(sizes > 0, sums / sizes, np.nan)
    last = np.maximum.accumulate(np.where(sizes > 0, np.arange(count), -1))
    carried = (last >= 0) & (np.arange(count) - last <= FILL_BINS)
    return np.where(carried, means[np.maximum(last, 0)], np.nan)


def timeline(recording: Recording, zero: float) -> Timeline:
    """The run's series in at most :data:`MAX_BINS` bins, times relative to ``zero``."""
    start, width, count = _bins(recording, zero)
    requests = recording.requests
    starts = start + np.arange(count) * width
    index = _index(requests["start"].to_numpy(dtype=float) - zero, start, width, count)
    status = requests["status"].to_numpy()
    sizes = np.bincount(index, minlength=count).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        bad = np.bincount(index, weights=((status < 200) | (status >= 500)).astype(float), minlength=count)
        error_rate = np.where(sizes > 0, bad / sizes, np.nan)
        p50, p99 = _percentiles(requests["latency_ms"].to_numpy(dtype=float), index, count, (50, 99))
        answered = (status >= 200) & (status < 300)
        ladder = recording.tiers
        position = {tier: code for code, tier in enumerate(ladder)}
        # -1: not on the ladder (float first: a categorical column maps to a categorical, which takes no -1)
        codes = requests["tier"].map(position).astype("float64").fillna(-1).to_numpy(dtype=np.int64)
        tiers: dict[str, np.ndarray] = {}
        for code, tier in enumerate(ladder):
            share = np.bincount(index[answered & (codes == code)], minlength=count) / sizes
            if np.nansum(share) > 0:
                tiers[tier] = np.nan_to_num(share)
        other = np.bincount(index[answered & (codes < 0)], minlength=count) / sizes
        if np.nansum(other) > 0:
            tiers[UNKNOWN_TIER] = np.nan_to_num(other)
        tiers[NO_ANSWER] = np.nan_to_num(np.bincount(index[~answered], minlength=count) / sizes)
    grid = Timeline(starts, width, sizes / width, error_rate, p50, p99, tiers)
    probes = recording.probes
    checks = pd.Series(probes["check"].unique(), dtype=object)
    dependencies = sorted(checks[checks.str.startswith("breaker:")].str.removeprefix("breaker:"))
    breakers = {dep: _state_bands(probes, f"breaker:{dep}", STATE_RANK, zero, grid) for dep in dependencies}
    ready_rows = probes[probes["check"] == "ready"]
    ready_probes = ready_rows.assign(value=np.where(ready_rows["ok"].to_numpy(dtype=bool), READY, NOT_READY))
    ready = _state_bands(ready_probes, "ready", {READY: 0, NOT_READY: 1}, zero, grid)
    names = sorted(checks[checks.str.startswith("gauge:")].str.removeprefix("gauge:"))
    gauges = {name: _gauge_means(probes, f"gauge:{name}", zero, grid) for name in names}
    return Timeline(starts, width, grid.rps, error_rate, p50, p99, tiers, breakers, ready, ladder, gauges)
