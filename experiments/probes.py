"""Sampling the target's health and breaker states on a fixed cadence while a run goes on.

A probe that cannot observe anything (connection refused, timeout, unparsable metrics) is recorded as a failed
sample with the reason — probe failures are data about the target, not crashes of the harness.
"""

from __future__ import annotations

import threading
import time

import requests
from prometheus_client.parser import text_string_to_metric_families

from mlchaos.experiments.records import ProbeSample
from mlchaos.experiments.targets import TargetEndpoints

BREAKER_METRIC = "mlchaos_gateway_breaker_state"
"""Gauge with labels ``dependency`` and ``state``, 1 for the breaker's current state (the reference stack's)."""


class Prober:
    """Samples ``/health/ready`` and the breaker states from ``/metrics`` every ``interval_s`` in a thread."""

    def __init__(self, target: TargetEndpoints, *, interval_s: float = 0.25) -> None:
        self._target = target
        self._interval_s = interval_s
        self._session = requests.Session()
        self._session.headers.update(target.headers)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mlchaos-prober", daemon=True)
        self.samples: list[ProbeSample] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._session.close()

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.samples.extend(self.sample_once())
            next_at += self._interval_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def sample_once(self) -> list[ProbeSample]:
        return [self._probe_ready(), *self._probe_breakers()]

    def _get(self, path: str) -> tuple[float, requests.Response | None, float, str | None]:
        started = time.time()
        try:
            response = self._session.get(self._target.service_url + path, timeout=max(self._interval_s, 0.5))
        except requests.RequestException as exc:
            return started, None, (time.time() - started) * 1000, type(exc).__name__
        return started, response, (time.time() - started) * 1000, None

    def _probe_ready(self) -> ProbeSample:
        started, response, latency_ms, error = self._get(self._target.health.ready)
        if response is None:
            return ProbeSample(started, "ready", False, None, latency_ms, error)
        return ProbeSample(
            started, "ready", response.status_code == 200, str(response.status_code), latency_ms
        )

    def _probe_breakers(self) -> list[ProbeSample]:
        started, response, latency_ms, error = self._get(self._target.health.metrics)
        if response is None or response.status_code != 200:
            reason = error or f"HTTP {response.status_code if response is not None else '?'}"
            return [ProbeSample(started, "metrics", False, None, latency_ms, reason)]
        try:
            states = breaker_states(response.text)
        except ValueError as exc:
            return [ProbeSample(started, "metrics", False, None, latency_ms, f"unparsable metrics: {exc}")]
        return [
            ProbeSample(started, f"breaker:{dependency}", state == "closed", state, latency_ms)
            for dependency, state in sorted(states.items())
        ]


def breaker_states(metrics_text: str) -> dict[str, str]:
    """Dependency -> current breaker state, from Prometheus text exposition."""
    states: dict[str, str] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != BREAKER_METRIC:
            continue
        for sample in family.samples:
            if sample.value == 1 and "dependency" in sample.labels and "state" in sample.labels:
                states[sample.labels["dependency"]] = sample.labels["state"]
    return states
