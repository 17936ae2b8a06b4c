"""What the run knows while it runs: per-second tallies of completed requests, and the guardrails judged on them.

Records arrive from the load child when requests *complete*, so live tallies are binned by completion time: a
blackholed dependency shows up as seconds in which nothing completes — which guardrails count as failing seconds,
because "no answer at all" is the worst answer.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from mlchaos.experiments.records import RequestRecord
from mlchaos.experiments.scenario import Guardrail


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

    def add(self, records: list[RequestRecord]) -> None:
        with self._lock:
            for record in records:
                second = self._seconds[math.floor(record.start + record.latency_ms / 1000)]
                second.requests += 1
                second.errors += not (200 <= record.status < 500)
                second.tiers[record.tier or "none"] += 1
                second.latencies.append(record.latency_ms)
            self.total += len(records)

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
