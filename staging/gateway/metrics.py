"""The gateway's Prometheus metrics, in a registry of its own (no global state, so tests can build many).

Exposed at ``GET /metrics``::

    mlchaos_gateway_requests_total{tier}                answers of POST /predict, by (reported) tier
    mlchaos_gateway_responses_total{status}             responses of POST /predict, by HTTP status
    mlchaos_gateway_request_duration_seconds{tier}      histogram of answer latency, by tier
    mlchaos_gateway_tier_skipped_total{tier}            tiers that could not answer (the chain moved on)
    mlchaos_gateway_breaker_state{dependency,state}     1 for each breaker's current state, 0 otherwise
    mlchaos_gateway_breaker_transitions_total{dependency,from_state,to_state}
    mlchaos_gateway_shed_total{mode}                    requests beyond max_in_flight, by shed_mode
    mlchaos_gateway_in_flight                           requests in the fallback chain right now
    mlchaos_gateway_review_total{reason}                answers flagged for review: ood, low_confidence
    mlchaos_gateway_drift_score{feature}                drift monitor: KS distance x sqrt(n) vs training data
    mlchaos_gateway_drift_alarm                         1 while any feature's drift score is over the threshold
    mlchaos_gateway_drift_alarms_total                  alarm onsets (seen even if an alarm ends between scrapes)

Every label combination that can occur is created at start, so a series exists (at 0) before its first event
and ``rate()``/``increase()`` see the first increment.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from mlchaos.staging.gateway.breaker import BreakerState, CircuitBreaker
from mlchaos.staging.gateway.drift import DRIFT_FEATURES, DriftState
from mlchaos.staging.options import SHED_MODES, ShedMode
from mlchaos.staging.schemas import ReviewReason, Tier

LATENCY_BUCKETS_S: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.15,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
STATUSES: Final = ("200", "400", "413", "415", "422", "429", "500")


class GatewayMetrics:
    def __init__(self, dependencies: Iterable[str], registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "mlchaos_gateway_requests", "Answers of POST /predict by tier.", ["tier"], registry=self.registry
        )
        self.responses = Counter(
            "mlchaos_gateway_responses",
            "Responses of POST /predict by HTTP status.",
            ["status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mlchaos_gateway_request_duration_seconds",
            "Time to answer POST /predict, by tier.",
            ["tier"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.skipped = Counter(
            "mlchaos_gateway_tier_skipped",
            "Tiers that could not answer a request.",
            ["tier"],
            registry=self.registry,
        )
        self.breaker_state = Gauge(
            "mlchaos_gateway_breaker_state",
            "Circuit breaker state per dependency: 1 for the current state, 0 for the others.",
            ["dependency", "state"],
            registry=self.registry,
        )
        self.breaker_transitions = Counter(
            "mlchaos_gateway_breaker_transitions",
            "Circuit breaker state changes per dependency.",
            ["dependency", "from_state", "to_state"],
            registry=self.registry,
        )
        self.shed = Counter(
            "mlchaos_gateway_shed",
            "Requests beyond max_in_flight, answered at once by shed_mode (degrade: rules/static; reject: 429).",
            ["mode"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "mlchaos_gateway_in_flight",
            "Requests of POST /predict in the fallback chain right now (shed ones never enter it).",
            registry=self.registry,
        )
        self.review = Counter(
            "mlchaos_gateway_review",
            "Answers of POST /predict flagged for review, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.drift_score = Gauge(
            "mlchaos_gateway_drift_score",
            "Drift of recent valid requests from the training data per feature: Kolmogorov-Smirnov distance "
            "x sqrt(window size); 0 until the window holds min_samples values.",
            ["feature"],
            registry=self.registry,
        )
        self.drift_alarm = Gauge(
            "mlchaos_gateway_drift_alarm",
            "1 while any feature's drift score is above the alarm threshold, else 0.",
            registry=self.registry,
        )
        self.drift_alarms = Counter(
            "mlchaos_gateway_drift_alarms",
            "Drift alarm onsets (0 -> 1 transitions of mlchaos_gateway_drift_alarm).",
            registry=self.registry,
        )
        for reason in ReviewReason:
            self.review.labels(reason=reason.value)
        for feature in DRIFT_FEATURES:
            self.drift_score.labels(feature=feature)
        for mode in SHED_MODES:
            self.shed.labels(mode=mode)
        for tier in Tier:
            self.requests.labels(tier=tier.value)
            self.latency.labels(tier=tier.value)
            self.skipped.labels(tier=tier.value)
        for status in STATUSES:
            self.responses.labels(status=status)
        for dependency in dependencies:
            for old in BreakerState:
                for new in BreakerState:
                    if old is not new:
                        self.breaker_transitions.labels(dependency, old.value, new.value)
            self._show_state(dependency, BreakerState.CLOSED)

    def observe_answer(self, tier: Tier, skipped: Iterable[Tier], seconds: float) -> None:
        self.requests.labels(tier=tier.value).inc()
        self.latency.labels(tier=tier.value).observe(seconds)
        for skipped_tier in skipped:
            self.skipped.labels(tier=skipped_tier.value).inc()

    def observe_review(self, reason: ReviewReason | None) -> None:
        if reason is not None:
            self.review.labels(reason=reason.value).inc()

    def show_drift(self, state: DriftState, onset: bool) -> None:
        """An ``on_update`` for :class:`~mlchaos.staging.gateway.drift.DriftMonitor`."""
        for feature, score in state.scores.items():
            self.drift_score.labels(feature=feature).set(score)
        self.drift_alarm.set(1.0 if state.alarm else 0.0)
        if onset:
            self.drift_alarms.inc()

    def observe_status(self, status: int) -> None:
        self.responses.labels(status=str(status)).inc()

    def observe_shed(self, mode: ShedMode) -> None:
        self.shed.labels(mode=mode).inc()

    def show_in_flight(self, count: int) -> None:
        """An ``on_change`` for :class:`~mlchaos.staging.gateway.admission.InFlightLimit`."""
        self.in_flight.set(count)

    def on_transition(self, dependency: str, old: BreakerState, new: BreakerState) -> None:
        """A :data:`~mlchaos.staging.gateway.breaker.TransitionListener`."""
        self.breaker_transitions.labels(dependency, old.value, new.value).inc()
        self._show_state(dependency, new)

    def render(self, breakers: Iterable[CircuitBreaker]) -> bytes:
        """The exposition text. Reading each breaker's state first shows a due OPEN -> HALF_OPEN move."""
        for breaker in breakers:
            _ = breaker.state
        return generate_latest(self.registry)

    def _show_state(self, dependency: str, current: BreakerState) -> None:
        for state in BreakerState:
            self.breaker_state.labels(dependency, state.value).set(1.0 if state is current else 0.0)
