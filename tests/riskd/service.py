"""risk-api's state behind the HTTP layer: models (loaded in the background), breakers, load shedding, drift,
the cold start, and the metrics that show all of it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final

from sklearn.pipeline import Pipeline

from riskd import models
from riskd.breaker import Breaker
from riskd.chain import Answer, Chain
from riskd.config import PROXIES, RiskdConfig
from riskd.data import training_rows
from riskd.drift import DriftMonitor
from riskd.metrics import Metrics
from riskd.upstream import Upstreams

CANARY: Final = {
    "customer_ref": "C-00042",
    "value_eur": 12.5,
    "channel": "web",
    "country": "DE",
    "night": False,
    "basket_items": 3,
}
"""What /readyz/deep sends through the chain: an ordinary payment of a known customer."""


@dataclass(frozen=True)
class Loaded:
    silver: Pipeline
    ood: models.OodDetector
    drift: DriftMonitor


class Service:
    def __init__(self, config: RiskdConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.breakers = {
            name: Breaker(
                name,
                config.failure_threshold,
                config.effective_recovery_s,
                never_opens=config.has("breaker_never_opens"),
                never_half_opens=config.has("breaker_never_closes"),
                listener=self.metrics.transition,
            )
            for name in PROXIES
        }
        self.upstreams = Upstreams(config)
        self.in_flight = 0
        self._loaded: Loaded | None = None
        self._chain: Chain | None = None
        self._ready_at: float | None = None

    def load(self) -> None:
        """Train silver and fit the OOD detector and drift reference; run in a thread, after the port is
        bound, so that /healthz answers (alive) while /readyz says 503 (not ready)."""
        rows = training_rows()
        silver = models.train_silver()
        loaded = Loaded(silver, models.OodDetector.fit(), DriftMonitor([body for body, _, _ in rows]))
        self._chain = Chain(self.config, silver, self.upstreams, self.breakers)
        self._loaded = loaded
        self._ready_at = time.monotonic()  # last: whoever sees it set sees everything above

    @property
    def ready(self) -> bool:
        return self._ready_at is not None

    def cold(self) -> bool:
        """Within the cold start (caches warming): answers are slowed down."""
        return self._ready_at is not None and time.monotonic() - self._ready_at < self.config.cold_start_s

    async def score(self, body: dict[str, Any]) -> Answer:
        """Answer a validated request. Raises only on a bug (or a planted one: NaN under nan_500)."""
        loaded, chain = self._parts()
        x = models.request_matrix(body)
        ood = loaded.ood.is_ood(x)
        # Load shedding: a request beyond max_in_flight is answered by the rules at once, never queued.
        # No lock needed: one event loop, and nothing between the check and the increment awaits.
        if self.in_flight >= self.config.max_in_flight:
            answer = chain.shed(body, ood)
            self.metrics.shed.inc()
        else:
            self.in_flight += 1
            self.metrics.in_flight.set(self.in_flight)
            try:
                answer = await chain.answer(body, x, ood)
            finally:
                self.in_flight -= 1
                self.metrics.in_flight.set(self.in_flight)
        onsets = loaded.drift.state.onsets
        loaded.drift.observe(body)
        self.metrics.drift(loaded.drift.state, onsets)
        self.metrics.answers.labels(answer.served_by).inc()
        if answer.review_reason is not None:
            self.metrics.reviews.labels(answer.review_reason).inc()
        return answer

    async def canary(self) -> tuple[Answer, float]:
        """The canary through the whole chain (not counted as an answer, not seen by the drift monitor)."""
        _, chain = self._parts()
        started = time.perf_counter()
        answer = await chain.answer(CANARY, models.request_matrix(CANARY), ood=False)
        return answer, time.perf_counter() - started

    def refresh(self) -> None:
        """Before a scrape: time-driven changes (open -> half-open, drift recomputation, end of cold start)."""
        for breaker in self.breakers.values():
            _ = breaker.state
        if self._loaded is not None:
            onsets = self._loaded.drift.state.onsets
            self.metrics.drift(self._loaded.drift.refresh(), onsets)
        self.metrics.cold.set(1 if self.cold() else 0)

    def _parts(self) -> tuple[Loaded, Chain]:
        if self._loaded is None or self._chain is None:
            raise RuntimeError("not ready")
        return self._loaded, self._chain
