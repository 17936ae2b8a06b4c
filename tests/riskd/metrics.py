"""risk-api's Prometheus metrics, on a registry of its own (``GET /internal/metrics``).

riskd_upstream_circuit{upstream}                  gauge: breaker state as a number, 0 closed, 1 open, 2 half-open
riskd_circuit_changes_total{upstream,from,to}     transitions, state names upper-case (CLOSED, OPEN, HALF_OPEN)
riskd_answers_total{served_by}                    200 answers by the tier that really served them
riskd_drift_alarm_active                          1 while the drift monitor alarms
riskd_drift_alarms_raised_total                   alarm onsets
riskd_drift_score{feature}                        -log10(p) per feature; the alarm threshold is 5
riskd_score_latency_seconds{served_by}            histogram of POST /api/v2/score answers (200s)
riskd_load_shed_total, riskd_in_flight, riskd_reviews_total{reason}, riskd_rejections_total{status},
riskd_cold_start_active
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from riskd.breaker import State
from riskd.config import PROXIES, TIERS
from riskd.drift import FEATURES, DriftState

_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.35, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0)
_TRANSITIONS: Final = (
    (State.CLOSED, State.OPEN),
    (State.OPEN, State.HALF_OPEN),
    (State.HALF_OPEN, State.CLOSED),
    (State.HALF_OPEN, State.OPEN),
)


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.circuit = Gauge(
            "riskd_upstream_circuit",
            "Breaker state: 0 closed, 1 open, 2 half-open",
            ["upstream"],
            registry=registry,
        )
        self.changes = Counter(
            "riskd_circuit_changes", "Breaker transitions", ["upstream", "from", "to"], registry=registry
        )
        self.answers = Counter("riskd_answers", "Answers by serving tier", ["served_by"], registry=registry)
        self.drift_active = Gauge("riskd_drift_alarm_active", "1 while drift is alarmed", registry=registry)
        self.drift_raised = Counter("riskd_drift_alarms_raised", "Drift alarm onsets", registry=registry)
        self.drift_score = Gauge(
            "riskd_drift_score", "-log10(p) of the drift test per feature", ["feature"], registry=registry
        )
        self.latency = Histogram(
            "riskd_score_latency_seconds", "Score latency", ["served_by"], buckets=_BUCKETS, registry=registry
        )
        self.shed = Counter("riskd_load_shed", "Requests answered by bronze for load", registry=registry)
        self.in_flight = Gauge("riskd_in_flight", "Requests in the fallback chain", registry=registry)
        self.reviews = Counter("riskd_reviews", "Answers flagged for review", ["reason"], registry=registry)
        self.rejections = Counter("riskd_rejections", "Bad requests by status", ["status"], registry=registry)
        self.cold = Gauge(
            "riskd_cold_start_active", "1 while answers are slowed by the cold start", registry=registry
        )
        # Every series exists from the first scrape, so rates and "went from 0 to 1" checks need no special case.
        for upstream in PROXIES:
            self.circuit.labels(upstream).set(State.CLOSED.value)
            for old, new in _TRANSITIONS:
                self.changes.labels(upstream, old.name, new.name)
        for tier in TIERS:
            self.answers.labels(tier)
            self.latency.labels(tier)
        for feature in FEATURES:
            self.drift_score.labels(feature).set(0.0)
        for reason in ("ood", "low_confidence"):
            self.reviews.labels(reason)

    def transition(self, upstream: str, old: State, new: State) -> None:
        self.circuit.labels(upstream).set(new.value)
        self.changes.labels(upstream, old.name, new.name).inc()

    def drift(self, state: DriftState, previous_onsets: int) -> None:
        self.drift_active.set(1 if state.alarm else 0)
        if state.onsets > previous_onsets:
            self.drift_raised.inc(state.onsets - previous_onsets)
        for feature, score in state.scores.items():
            self.drift_score.labels(feature).set(score)

    def render(self) -> bytes:
        return generate_latest(self.registry)
