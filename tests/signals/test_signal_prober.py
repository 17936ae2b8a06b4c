"""The prober samples what the target declares and nothing else, over HTTP with a total deadline per request,
never following a redirect, and stops when told to."""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from signal_services import Service
from support.waiting import wait_until

from mlchaos.experiments.probes import Prober
from mlchaos.experiments.signals import Signals
from mlchaos.experiments.targets import HealthPaths, TargetEndpoints

SIGNALS = {
    "breakers": [
        {
            "metric": "svc_circuit",
            "dependency_label": "upstream",
            "states": {"closed": "0", "open": "1", "half_open": "2"},
        }
    ],
    "transitions": [
        {
            "metric": "svc_circuit_changes",
            "dependency_label": "upstream",
            "from_label": "from",
            "to_label": "to",
            "states": {"closed": "CLOSED", "open": "OPEN", "half_open": "HALF_OPEN"},
        }
    ],
    "drift": {"alarm": {"metric": "svc_drift_alarm"}},
    "gauges": {"in_flight": {"metric": "svc_in_flight"}},
}


def metrics_text() -> str:
    registry = CollectorRegistry()
    Gauge("svc_circuit", "", ["upstream"], registry=registry).labels("ledger").set(1)
    changes = Counter("svc_circuit_changes", "", ["upstream", "from", "to"], registry=registry)
    changes.labels("ledger", "CLOSED", "OPEN").inc()
    Gauge("svc_drift_alarm", "", registry=registry).set(0)
    Gauge("svc_in_flight", "", registry=registry).set(4)
    return generate_latest(registry).decode()


def target(service: Service, signals: dict[str, Any] | None = None, **health: str | None) -> TargetEndpoints:
    return TargetEndpoints(
        service_url=service.url,
        health=HealthPaths.model_validate(health),
        signals=Signals.model_validate(signals or {}),
    )


def test_samples_only_the_declared_signals_under_the_checks_verifiers_read(service: Service) -> None:
    service.metrics = metrics_text()
    samples = {s.check: s for s in Prober(target(service, SIGNALS)).sample_once()}
    assert set(samples) == {
        "ready",
        "live",
        "inference",
        "breaker:ledger",
        "transitions:ledger:closed>open",
        "drift:alarm",
        "gauge:in_flight",
    }
    assert (samples["breaker:ledger"].value, samples["breaker:ledger"].ok) == ("open", False)
    assert samples["transitions:ledger:closed>open"].number == 1.0
    assert samples["gauge:in_flight"].number == 4.0
    assert service.paths.count("/metrics") == 1  # one GET of the exposition for all signals of a round


def test_a_target_without_signals_or_a_deep_check_gets_health_probes_only(service: Service) -> None:
    service.metrics = metrics_text()  # the service exposes metrics, but the target declares none
    checks = [s.check for s in Prober(target(service, inference=None)).sample_once()]
    assert checks == ["ready", "live"]
    assert service.paths == ["/health/ready", "/health/live"]


def test_unreadable_metrics_are_one_failed_sample_saying_why(service: Service) -> None:
    service.metrics, service.metrics_status = "", 503
    samples = Prober(target(service, SIGNALS)).sample_once()
    failed = [s for s in samples if not s.ok]
    assert [(s.check, s.error) for s in failed] == [("metrics", "HTTP 503")]


def test_metric_signals_without_a_metrics_path_are_a_failed_sample(service: Service) -> None:
    samples = {s.check: s for s in Prober(target(service, SIGNALS, metrics=None)).sample_once()}
    assert samples["metrics"].error == (
        "signals.breakers[0] is read from /metrics, but the target declares no health.metrics path"
    )
    assert "/metrics" not in service.paths


def test_a_redirect_is_recorded_not_followed(service: Service) -> None:
    samples = {s.check: s for s in Prober(target(service, ready="/moved")).sample_once()}
    assert not samples["ready"].ok
    assert samples["ready"].error == "redirect to http://127.0.0.1:9/elsewhere, not followed"


def test_a_dribbling_answer_is_cut_at_the_total_deadline(service: Service) -> None:
    # /drip sends a byte every 50 ms: no single read ever waits 0.5 s, yet the answer takes 5 s in all.
    samples = {s.check: s for s in Prober(target(service, ready="/drip"), interval_s=0.25).sample_once()}
    error = samples["ready"].error
    assert (
        not samples["ready"].ok and error is not None and error.startswith("no complete answer within 0.5s")
    )


def test_stop_ends_the_thread_even_while_an_answer_dribbles_in(service: Service) -> None:
    # The 5 s answer outlasts stop()'s wait (one deadline and a second's margin) unless the deadline cuts it.
    prober = Prober(target(service, ready="/drip", inference=None))
    prober.start()
    wait_until(lambda: "/drip" in service.paths, 30, "the prober to ask /drip", interval_s=0.01)
    prober.stop()
    assert "mlchaos-prober" not in [thread.name for thread in threading.enumerate()]


def test_an_unreachable_prometheus_is_a_failed_sample_naming_the_signal(service: Service) -> None:
    signals = {
        "prometheus_url": "http://127.0.0.1:9",
        "breakers": [{"query": "cb", "dependency_label": "upstream", "states": {"closed": "0", "open": "1"}}],
    }
    samples = {s.check: s for s in Prober(target(service, signals)).sample_once()}
    assert samples["signal:breakers[0]"].error == (
        "signals.breakers[0]: Prometheus http://127.0.0.1:9: ConnectionError"
    )
