"""What the run knows while it runs: per-second tallies of completed requests, and the guardrails judged on them.

Records arrive from the load child when requests *complete*, so live tallies are binned by completion time: a
blackholed dependency shows up as seconds in which nothing completes — which guardrails count as failing seconds,
because "no answer at all" is the worst answer.

Only the last :data:`KEPT_S` seconds are kept: the display and the guardrails look at the last few, and the rows
themselves are on disk (:mod:`mlchaos.experiments.load.recording`), so this does not grow with the run's length.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from mlchaos.experiments.scenario import Guardrail

KEPT_S = 30
"""Seconds of tallies kept, counted back from the latest completion seen (windows read are at most 3 s)."""


@dataclass
class _Second:
    requests: int = 0
    errors: int = 0
    tiers: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Snapshot:
    """The last few seconds, for the progress display."""

    total: int
    rps: float
    error_rate: float | None
    tier_shares: dict[str, float]


class LiveStats:
    """Thread-safe: the load runner's reader thread adds, the engine's main thread reads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seconds: defaultdict[int, _Second] = defaultdict(_Second)
        self.total = 0

    def add(self, batch: pa.RecordBatch) -> None:
        """Tally a batch of recorded rows (``REQUEST_SCHEMA``), by the second each request completed in."""
        start = batch.column("start").to_numpy()
        latency = batch.column("latency_ms").to_numpy()
        status = batch.column("status").to_numpy()
        ends = np.floor(start + latency / 1000).astype(np.int64)
        failed = (status < 200) | (status >= 500)
        tiers = Counter(zip(ends.tolist(), batch.column("tier").to_pylist(), strict=True))
        with self._lock:
            for end in np.unique(ends).tolist():
                inside = ends == end
                second = self._seconds[end]
                second.requests += int(inside.sum())
                second.errors += int(failed[inside].sum())
                second.latencies.extend(latency[inside].tolist())
            for (end, tier), count in tiers.items():
                self._seconds[end].tiers[tier or "none"] += count
            self.total += batch.num_rows
            newest = max(self._seconds, default=0)
            for old in [s for s in self._seconds if s < newest - KEPT_S]:
                del self._seconds[old]

    def _window(self, start: float, end: float) -> list[_Second]:
        with self._lock:
            return [self._seconds[s] for s in range(math.floor(start), math.ceil(end)) if s in self._seconds]

    def snapshot(self, now: float, span_s: float = 3.0) -> Snapshot:
        seconds = self._window(now - span_s, now)
        requests = sum(s.requests for s in seconds)
        tiers: Counter[str] = sum((s.tiers for s in seconds), Counter())
        return Snapshot(
            total=self.total,
            rps=requests / span_s,
            error_rate=sum(s.errors for s in seconds) / requests if requests else None,
            tier_shares={tier: count / requests for tier, count in tiers.most_common()} if requests else {},
        )

    def current(self, metric: str, now: float) -> float:
        """The metric over the last full second; infinitely bad when nothing completed in it."""
        seconds = self._window(now - 1.0, now)
        requests = sum(s.requests for s in seconds)
        if requests == 0:
            return math.inf
        if metric == "error_rate":
            return sum(s.errors for s in seconds) / requests
        return float(np.percentile([lat for s in seconds for lat in s.latencies], 99))


class GuardrailWatch:
    """Trips a guardrail once its metric has stayed above the bound for its whole ``for`` duration."""

    def __init__(self, guardrails: list[Guardrail], stats: LiveStats) -> None:
        self._guardrails = guardrails
        self._stats = stats
        self._violating_since: dict[int, float] = {}

    def check(self, now: float | None = None) -> tuple[Guardrail, float] | None:
        """The guardrail that tripped and its current value, or ``None``."""
        now = time.time() if now is None else now
        for index, guardrail in enumerate(self._guardrails):
            value = self._stats.current(guardrail.metric, now)
            if value <= guardrail.above:
                self._violating_since.pop(index, None)
                continue
            since = self._violating_since.setdefault(index, now)
            if now - since >= guardrail.for_:
                return guardrail, value
        return None
