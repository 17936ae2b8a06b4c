"""Sampling the target's health and breaker states on a fixed cadence while a run goes on.

A probe that cannot observe anything (connection refused, timeout, unparsable metrics) is recorded as a failed
sample with the reason — probe failures are data about the target, not crashes of the harness.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import requests
from prometheus_client.parser import text_string_to_metric_families

from mlchaos.experiments.kubernetes.readiness import sample_workloads
from mlchaos.experiments.records import ProbeSample
from mlchaos.experiments.targets import TargetEndpoints

BREAKER_METRIC = "mlchaos_gateway_breaker_state"
"""Gauge with labels ``dependency`` and ``state``, 1 for the breaker's current state (the reference stack's)."""
TRANSITIONS_METRIC = "mlchaos_gateway_breaker_transitions"
"""Counter with labels ``dependency``, ``from_state``, ``to_state``."""
DRIFT_ALARM_METRIC = "mlchaos_gateway_drift_alarm"
"""Gauge, 1 while the target's drift monitor raises its alarm, else 0."""
DRIFT_ALARMS_METRIC = "mlchaos_gateway_drift_alarms"
"""Counter (``_total``) of alarm onsets, so an alarm shorter than the sampling interval is seen too."""
INFERENCE_EVERY = 4
"""The deep health check runs a canary through the model chain: sample it every 4th round, not every round."""


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
        rounds = 0
        while not self._stop.is_set():
            try:
                self.samples.extend(self.sample_once(inference=rounds % INFERENCE_EVERY == 0))
            except Exception as exc:  # a probe bug must show up in the data, not end probing
                self.samples.append(ProbeSample(time.time(), "prober", False, None, None, repr(exc)))
            rounds += 1
            next_at += self._interval_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def sample_once(self, *, inference: bool = True) -> list[ProbeSample]:
        health = self._target.health
        checks = [("ready", health.ready), ("live", health.live)] + (
            [("inference", health.inference)] * inference
        )
        workloads = sample_workloads(self._target.kubernetes) if self._target.kubernetes else []
        return [
            *(self._probe_health(name, path) for name, path in checks),
            *self._probe_metrics(),
            *workloads,
        ]

    def _get(self, path: str) -> tuple[float, requests.Response | None, float, str | None]:
        started = time.time()
        try:
            response = self._session.get(self._target.service_url + path, timeout=max(self._interval_s, 0.5))
        except requests.RequestException as exc:
            return started, None, (time.time() - started) * 1000, type(exc).__name__
        return started, response, (time.time() - started) * 1000, None

    def _probe_health(self, check: str, path: str) -> ProbeSample:
        started, response, latency_ms, error = self._get(path)
        if response is None:
            return ProbeSample(started, check, False, None, latency_ms, error)
        return ProbeSample(started, check, response.status_code == 200, str(response.status_code), latency_ms)

    def _probe_metrics(self) -> list[ProbeSample]:
        started, response, latency_ms, error = self._get(self._target.health.metrics)
        if response is None or response.status_code != 200:
            reason = error or f"HTTP {response.status_code if response is not None else '?'}"
            return [ProbeSample(started, "metrics", False, None, latency_ms, reason)]
        try:
            breakers = read_breakers(response.text)
        except ValueError as exc:
            return [ProbeSample(started, "metrics", False, None, latency_ms, f"unparsable metrics: {exc}")]
        samples = [
            ProbeSample(started, f"breaker:{dependency}", state == "closed", state, latency_ms)
            for dependency, state in sorted(breakers.states.items())
        ]
        samples += [
            ProbeSample(
                started, f"transitions:{dependency}:{old}>{new}", True, None, latency_ms, number=count
            )
            for (dependency, old, new), count in sorted(breakers.transitions.items())
        ]
        drift = read_drift(response.text)
        if drift.alarm is not None:
            value = "1" if drift.alarm else "0"
            samples.append(
                ProbeSample(started, "drift:alarm", not drift.alarm, value, latency_ms, number=drift.alarm)
            )
        if drift.alarms_total is not None:
            samples.append(
                ProbeSample(started, "drift:alarms_total", True, None, latency_ms, number=drift.alarms_total)
            )
        return samples


@dataclass(frozen=True)
class Breakers:
    states: dict[str, str]
    """Dependency -> current state."""
    transitions: dict[tuple[str, str, str], float]
    """(dependency, from state, to state) -> how many times, since the service started."""


def read_breakers(metrics_text: str) -> Breakers:
    """Breaker states and transition counts from Prometheus text exposition (prometheus_client's parser)."""
    states: dict[str, str] = {}
    transitions: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            labels = sample.labels
            if (
                family.name == BREAKER_METRIC
                and sample.value == 1
                and {"dependency", "state"} <= labels.keys()
            ):
                states[labels["dependency"]] = labels["state"]
            elif family.name == TRANSITIONS_METRIC and sample.name.endswith("_total"):
                key = (labels.get("dependency", ""), labels.get("from_state", ""), labels.get("to_state", ""))
                transitions[key] = sample.value
    return Breakers(states, transitions)


@dataclass(frozen=True)
class Drift:
    """The target's drift monitor, as ``/metrics`` shows it; ``None`` where the target exposes no such metric."""

    alarm: float | None
    """1 while the alarm is raised, 0 otherwise."""
    alarms_total: float | None
    """Alarm onsets since the service started."""


def read_drift(metrics_text: str) -> Drift:
    """The drift alarm gauge and onset counter from Prometheus text exposition (absent on older targets)."""
    alarm: float | None = None
    alarms_total: float | None = None
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if family.name == DRIFT_ALARM_METRIC and sample.name == DRIFT_ALARM_METRIC:
                alarm = 1.0 if sample.value >= 1 else 0.0
            elif family.name == DRIFT_ALARMS_METRIC and sample.name == f"{DRIFT_ALARMS_METRIC}_total":
                alarms_total = sample.value
    return Drift(alarm, alarms_total)
