"""Sampling the target's health and the signals it declares on a fixed cadence while a run goes on.

Each round samples

- the health endpoints: ``ready``, ``live``, and every :data:`INFERENCE_EVERY`-th round ``inference`` when the
  target has one;
- the signals the target declares (:class:`~mlchaos.experiments.signals.Signals`), and nothing else — the prober
  knows no service's metric names. Those given as ``metric`` come from one GET of the target's ``health.metrics``
  per round, those given as ``query`` from one instant query each to ``signals.prometheus_url``. Either way they
  are recorded under the checks the verifiers read (``breaker:<dependency>``, ``transitions:…``, ``drift:…``,
  ``gauge:<name>``; see :class:`~mlchaos.experiments.records.ProbeSample` and
  :mod:`~mlchaos.experiments.signal_mapping`);
- a Kubernetes target's workloads.

A probe that cannot observe anything (connection refused, deadline, redirect, unparsable metrics, a value no
declared state maps) is recorded as a failed sample with the reason — probe failures are data about the target,
not crashes of the harness. Every request has a total deadline (:func:`~mlchaos.experiments.signal_reading.get`)
of the interval, at least :data:`MIN_DEADLINE_S`; the thread checks for :meth:`Prober.stop` between requests, so
``stop()`` returns within one deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
import requests

from mlchaos.experiments.errors import RunStopped
from mlchaos.experiments.kubernetes.readiness import sample_workloads
from mlchaos.experiments.records import PROBE_SCHEMA, ProbeSample
from mlchaos.experiments.redaction import redact_text
from mlchaos.experiments.signal_mapping import DeclaredSignal, Reading, declared
from mlchaos.experiments.signal_reading import (
    Answer,
    SignalReadError,
    from_exposition,
    from_prometheus,
    get,
)
from mlchaos.experiments.targets import TargetEndpoints

INFERENCE_EVERY = 4
"""The deep health check runs a canary through the model chain: sample it every 4th round, not every round."""
MIN_DEADLINE_S = 0.5
"""No request gets less time than this, however short the interval: a busy target is slow, not down."""

_T = TypeVar("_T")


class _Stopped(RunStopped):
    """stop() was called: the round in progress is abandoned."""


class Prober:
    """Samples health endpoints and declared signals every ``interval_s`` in a thread."""

    def __init__(self, target: TargetEndpoints, *, interval_s: float = 0.25) -> None:
        self._target = target
        self._interval_s = interval_s
        self._deadline_s = max(interval_s, MIN_DEADLINE_S)
        self._signals = declared(target.signals)
        self._session = requests.Session()
        self._session.headers.update(target.headers)
        # A session of its own: the service's headers (often credentials) are not for the Prometheus server.
        self._prometheus = requests.Session()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mlchaos-prober", daemon=True)
        self.samples: list[ProbeSample] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling; returns within about one request deadline (the round in progress is dropped)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._deadline_s + 1.0)
        self._session.close()
        self._prometheus.close()

    def _loop(self) -> None:
        next_at = time.monotonic()
        rounds = 0
        while not self._stop.is_set():
            try:
                self.samples.extend(self.sample_once(inference=rounds % INFERENCE_EVERY == 0))
            except _Stopped:
                return
            except Exception as exc:  # a probe bug must show up in the data, not end probing
                self.samples.append(ProbeSample(time.time(), "prober", False, None, None, repr(exc)))
            rounds += 1
            next_at += self._interval_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def sample_once(self, *, inference: bool = True) -> list[ProbeSample]:
        health = self._target.health
        checks = [("ready", health.ready), ("live", health.live)]
        if inference and health.inference is not None:
            checks.append(("inference", health.inference))
        samples = [self._probe_health(name, path) for name, path in checks]
        from_metrics = [s for s in self._signals if s.source.metric is not None]
        if from_metrics:
            samples += self._read_metrics(from_metrics)
        for signal in self._signals:
            if signal.source.query is not None:
                samples += self._read_query(signal)
        if self._target.kubernetes:
            samples += sample_workloads(self._target.kubernetes)
        return samples

    def _timed(self, fetch: Callable[[], _T]) -> tuple[float, float, _T | SignalReadError]:
        """``(started, latency_ms, result or the error)`` of one request."""
        if self._stop.is_set():
            raise _Stopped
        started, clock = time.time(), time.monotonic()
        try:
            result: _T | SignalReadError = fetch()
        except SignalReadError as exc:
            result = exc
        return started, (time.monotonic() - clock) * 1000, result

    def _get(self, path: str) -> Callable[[], Answer]:
        url = self._target.service_url + path
        return lambda: get(self._session, url, deadline_s=self._deadline_s)

    def _probe_health(self, check: str, path: str) -> ProbeSample:
        started, latency_ms, answer = self._timed(self._get(path))
        if isinstance(answer, SignalReadError):
            return ProbeSample(started, check, False, None, latency_ms, str(answer))
        return ProbeSample(started, check, answer.status == 200, str(answer.status), latency_ms)

    def _read_metrics(self, signals: Sequence[DeclaredSignal]) -> list[ProbeSample]:
        """One GET of the exposition for every signal given as ``metric``; unreadable, it is one ``metrics``
        sample saying why (the signals in it were not observed, so they get no samples of their own)."""
        path = self._target.health.metrics
        if path is None:
            error = (
                f"{signals[0].where} is read from /metrics, but the target declares no health.metrics path"
            )
            return [ProbeSample(time.time(), "metrics", False, error=error)]
        started, latency_ms, answer = self._timed(self._get(path))
        try:
            if isinstance(answer, SignalReadError):
                raise answer
            if answer.status != 200:
                raise SignalReadError(f"HTTP {answer.status}")
            readings = from_exposition(signals, answer.text)
        except SignalReadError as exc:
            return [ProbeSample(started, "metrics", False, None, latency_ms, str(exc))]
        return [_sample(started, latency_ms, reading) for reading in readings]

    def _read_query(self, signal: DeclaredSignal) -> list[ProbeSample]:
        prometheus = str(self._target.signals.prometheus_url)

        def fetch() -> list[Reading]:
            return from_prometheus(signal, self._prometheus, prometheus, deadline_s=self._deadline_s)

        started, latency_ms, readings = self._timed(fetch)
        if isinstance(readings, SignalReadError):  # from_prometheus maps its failures to readings already
            readings = [signal.failed(str(readings))]
        return [_sample(started, latency_ms, reading) for reading in readings]


def _sample(started: float, latency_ms: float, reading: Reading) -> ProbeSample:
    return ProbeSample(
        started, reading.check, reading.ok, reading.value, latency_ms, reading.error, reading.number
    )


def write_probes(samples: Sequence[ProbeSample], path: Path) -> None:
    """The probe samples of a run, as probes.parquet."""
    rows = [asdict(s) for s in samples]
    for row in rows:  # a probe's error may quote the URL it read
        row["error"] = row["error"] and redact_text(row["error"])
    pq.write_table(pa.Table.from_pylist(rows, schema=PROBE_SCHEMA), path)
