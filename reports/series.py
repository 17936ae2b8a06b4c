"""The run's time series, resampled to fixed bins for the timeline chart.

A one-hour run at 500 rps records 1.8 M requests; drawn point by point that is a chart of tens of megabytes.
Resampling to at most :data:`MAX_BINS` bins per series bounds the chart's size whatever the run's length or rate,
and per-bin aggregates (rate, error share, percentiles, tier shares, the worst breaker state) keep what matters:
a short outage still shows, because a bin takes its *worst* breaker state and its own p99.

Everything is vectorised, so a million requests take well under a second, and bounded in memory: counts go
through the requests a chunk at a time, and a recording (in time order) has each bin's percentiles from a sort of
that bin alone — at 10 M requests, whole-run index and sort arrays would be ~250 MB more at the report's peak.
Times are seconds relative to the run's zero (the baseline's start), as on the plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mlchaos.experiments.verifiers.base import Recording
from mlchaos.experiments.verifiers.steady_state import CHUNK_ROWS
from mlchaos.experiments.verifiers.tiers import ranks

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


@dataclass(frozen=True)
class _RequestBins:
    """What the timeline counts of the requests, per bin."""

    sizes: np.ndarray
    bad: np.ndarray
    """Requests not available (5xx, timeout, refused), as floats (a sum of weights)."""
    by_rank: np.ndarray
    """Answers (2xx) per position on the ladder (rows), the last row for tiers not on it."""
    unanswered: np.ndarray
    in_order: bool
    """Whether the requests come bin after bin (as a recording, sorted by start, does): each bin is then one
    stretch of rows, and its percentiles need no sort of the whole run."""


def _count(
    requests: pd.DataFrame, zero: float, start: float, width: float, count: int, ladder: tuple[str, ...]
) -> _RequestBins:
    """Per-bin counts, :data:`CHUNK_ROWS` requests at a time: the per-request arrays (bin index, flags) cover
    one chunk, not the run (at 10 M requests that would be ~250 MB more at the peak)."""
    times = requests["start"].to_numpy(dtype=float)
    status = requests["status"].to_numpy()
    sizes, bad = np.zeros(count, dtype=np.int64), np.zeros(count)
    by_rank = np.zeros((len(ladder) + 1, count), dtype=np.int64)
    unanswered = np.zeros(count, dtype=np.int64)
    in_order, last = True, 0
    for begin in range(0, len(times), CHUNK_ROWS):
        part = slice(begin, begin + CHUNK_ROWS)
        index = _index(times[part] - zero, start, width, count)
        in_order = in_order and bool(index[0] >= last) and bool(np.all(index[1:] >= index[:-1]))
        last = int(index[-1])
        code = status[part]
        sizes += np.bincount(index, minlength=count)
        bad += np.bincount(index, weights=((code < 200) | (code >= 500)).astype(float), minlength=count)
        answered = (code >= 200) & (code < 300)
        rank = ranks(requests.iloc[part], ladder)  # len(ladder): not on it
        for position in range(len(ladder) + 1):
            by_rank[position] += np.bincount(index[answered & (rank == position)], minlength=count)
        unanswered += np.bincount(index[~answered], minlength=count)
    return _RequestBins(sizes, bad, by_rank, unanswered, in_order)


def _percentiles_in_order(values: np.ndarray, sizes: np.ndarray, qs: tuple[float, ...]) -> list[np.ndarray]:
    """:func:`_percentiles` for values that come bin after bin (``sizes`` per bin): each bin sorted on its own,
    the same positions and interpolation, so the same numbers without a sorted copy of the whole run."""
    count = len(sizes)
    firsts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    valid = sizes > 0
    positions = [firsts + (sizes - 1) * q / 100.0 for q in qs]
    lows = [np.floor(position).astype(np.int64) for position in positions]
    highs = [np.ceil(position).astype(np.int64) for position in positions]
    lo_v = [np.full(count, np.nan) for _ in qs]
    hi_v = [np.full(count, np.nan) for _ in qs]
    for b in np.flatnonzero(valid):
        ordered = np.sort(values[firsts[b] : firsts[b] + sizes[b]])
        for k in range(len(qs)):
            lo_v[k][b] = ordered[lows[k][b] - firsts[b]]
            hi_v[k][b] = ordered[highs[k][b] - firsts[b]]
    result = []
    for k in range(len(qs)):
        out = np.full(count, np.nan)
        out[valid] = lo_v[k][valid] + (hi_v[k][valid] - lo_v[k][valid]) * (
            positions[k][valid] - lows[k][valid]
        )
        result.append(out)
    return result


def timeline(recording: Recording, zero: float) -> Timeline:
    """The run's series in at most :data:`MAX_BINS` bins, times relative to ``zero``."""
    start, width, count = _bins(recording, zero)
    requests = recording.requests
    starts = start + np.arange(count) * width
    ladder = recording.tiers
    counted = _count(requests, zero, start, width, count, ladder)
    sizes = counted.sizes.astype(float)
    latency = requests["latency_ms"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        error_rate = np.where(sizes > 0, counted.bad / sizes, np.nan)
        if counted.in_order:
            p50, p99 = _percentiles_in_order(latency, counted.sizes, (50, 99))
        else:  # a frame made by hand, not in time order: one sort of it all
            index = _index(requests["start"].to_numpy(dtype=float) - zero, start, width, count)
            p50, p99 = _percentiles(latency, index, count, (50, 99))
        tiers: dict[str, np.ndarray] = {}
        for code, tier in enumerate(ladder):
            share = counted.by_rank[code] / sizes
            if np.nansum(share) > 0:
                tiers[tier] = np.nan_to_num(share)
        other = counted.by_rank[len(ladder)] / sizes
        if np.nansum(other) > 0:
            tiers[UNKNOWN_TIER] = np.nan_to_num(other)
        tiers[NO_ANSWER] = np.nan_to_num(counted.unanswered / sizes)
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
