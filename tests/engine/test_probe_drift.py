"""The prober's drift samples of the reference stack's declaration: the alarm gauge and the onset counter."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from mlchaos.experiments.probes import Prober
from mlchaos.experiments.records import ProbeSample
from mlchaos.experiments.targets import REFERENCE_DECLARATION, declared_endpoints


def metrics_text(*, alarm: float | None, onsets: int = 0) -> str:
    """What the reference gateway exposes: a breaker gauge always, the drift metrics when it has them."""
    registry = CollectorRegistry()
    Gauge("mlchaos_gateway_breaker_state", "", ["dependency", "state"], registry=registry).labels(
        "feature_store", "closed"
    ).set(1)
    Counter(
        "mlchaos_gateway_breaker_transitions", "", ["dependency", "from_state", "to_state"], registry=registry
    )
    if alarm is not None:
        scores = Gauge("mlchaos_gateway_drift_score", "", ["feature"], registry=registry)
        scores.labels("amount").set(3.2)
        Gauge("mlchaos_gateway_drift_alarm", "", registry=registry).set(alarm)
        Counter("mlchaos_gateway_drift_alarms", "", registry=registry).inc(onsets)
    return generate_latest(registry).decode()


class MetricsServer(ThreadingHTTPServer):
    metrics = ""


class Handler(BaseHTTPRequestHandler):
    server: MetricsServer

    def do_GET(self) -> None:
        body = (self.server.metrics if self.path == "/metrics" else '{"status": "ok"}').encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # quiet test output
        pass


@pytest.fixture
def target() -> Iterator[MetricsServer]:
    """A loopback HTTP target whose /metrics text the test sets (the reference stack's drift flags have their
    own tests; here the prober's reading of every variant is what matters)."""
    server = MetricsServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def sample(server: MetricsServer) -> dict[str, ProbeSample]:
    url = f"http://127.0.0.1:{server.server_address[1]}"
    prober = Prober(declared_endpoints(REFERENCE_DECLARATION, service_url=url))
    return {s.check: s for s in prober.sample_once()}


def test_samples_a_raised_alarm_as_not_ok(target: MetricsServer) -> None:
    target.metrics = metrics_text(alarm=1, onsets=2)
    samples = sample(target)
    alarm, onsets = samples["drift:alarm"], samples["drift:alarms_total"]
    assert (alarm.value, alarm.number, alarm.ok) == ("1", 1.0, False)
    assert (onsets.number, onsets.ok) == (2.0, True)
    assert samples["breaker:feature_store"].value == "closed"


def test_samples_a_quiet_monitor_as_ok(target: MetricsServer) -> None:
    target.metrics = metrics_text(alarm=0)
    samples = sample(target)
    assert (samples["drift:alarm"].value, samples["drift:alarm"].ok) == ("0", True)
    assert samples["drift:alarms_total"].number == 0.0


def test_a_target_without_the_declared_drift_metrics_gets_failed_samples_naming_them(
    target: MetricsServer,
) -> None:
    target.metrics = metrics_text(alarm=None)
    samples = sample(target)
    assert "drift:alarm" not in samples and "drift:alarms_total" not in samples
    assert samples["signal:drift.alarm"].error == (
        "signals.drift.alarm: no metric 'mlchaos_gateway_drift_alarm' in the service's metrics (health.metrics)"
    )
    assert samples["signal:drift.onsets"].error == (
        "signals.drift.onsets: no metric 'mlchaos_gateway_drift_alarms' in the service's metrics (health.metrics)"
    )
