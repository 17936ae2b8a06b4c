"""Breakers read through a real Prometheus server: it scrapes a loopback service every second, the test moves
the service's breaker through its states, and the prober reads states, transitions and a gauge with PromQL —
and the ``breaker`` verifier judges what it read."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict

import pandas as pd
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from signal_services import Service
from support.prometheus_server import READY_WITHIN_S, Prometheus
from support.waiting import wait_until
from verifiers.synthetic import T0, fault, recording, requests_frame

from mlchaos.experiments.probes import Prober
from mlchaos.experiments.records import PROBE_SCHEMA, ProbeSample
from mlchaos.experiments.signals import Signals
from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.experiments.verifiers import breaker

NUMBERS = {"closed": 0, "open": 1, "half_open": 2}


class Breaker:
    """The scraped service's one breaker (``ledger``), its state a number and its transitions counted with
    upper-case state names — conventions unlike the reference stack's."""

    def __init__(self, service: Service) -> None:
        self._service = service
        self._registry = CollectorRegistry()
        self._state = Gauge("svc_circuit", "", ["upstream"], registry=self._registry)
        self._changes = Counter(
            "svc_circuit_changes", "", ["upstream", "from", "to"], registry=self._registry
        )
        Gauge("svc_in_flight", "", registry=self._registry).set(7)
        self.state = "closed"
        self._show()

    def move(self, state: str) -> None:
        self._changes.labels("ledger", self.state.upper(), state.upper()).inc()
        self.state = state
        self._show()

    def _show(self) -> None:
        self._state.labels("ledger").set(NUMBERS[self.state])
        self._service.metrics = generate_latest(self._registry).decode()


def signals(prometheus: Prometheus, **extra: object) -> Signals:
    return Signals.model_validate(
        {
            "prometheus_url": prometheus.url,
            "breakers": [
                {
                    "query": 'svc_circuit{job="svc"}',
                    "dependency_label": "upstream",
                    "states": {state: str(number) for state, number in NUMBERS.items()},
                }
            ],
            "transitions": [
                {
                    "query": 'svc_circuit_changes_total{job="svc"}',
                    "dependency_label": "upstream",
                    "from_label": "from",
                    "to_label": "to",
                    "states": {"closed": "CLOSED", "open": "OPEN", "half_open": "HALF_OPEN"},
                }
            ],
            **extra,
        }
    )


@pytest.fixture(scope="module")
def ledger(scraped: Service, prometheus: Prometheus) -> Breaker:
    breaker_ = Breaker(scraped)
    prometheus.wait_for('svc_circuit{job="svc"}', bool, "the breaker's first scrape")
    return breaker_


def target(scraped: Service, prometheus: Prometheus, **extra: object) -> TargetEndpoints:
    return TargetEndpoints(service_url=scraped.url, signals=signals(prometheus, **extra))


def until_seen(sample: Callable[[], list[ProbeSample]], check: str, wanted: str) -> dict[str, ProbeSample]:
    """Sample until ``check`` shows ``wanted`` (Prometheus lags by up to a scrape); bounded."""

    def shown() -> dict[str, ProbeSample] | None:
        seen = {s.check: s for s in sample()}
        return seen if check in seen and seen[check].value == wanted else None

    return wait_until(shown, READY_WITHIN_S, f"{check} to show {wanted} through Prometheus", interval_s=0.2)


def test_states_transitions_and_gauges_are_read_through_promql(
    scraped: Service, prometheus: Prometheus, ledger: Breaker
) -> None:
    gauges = {"gauges": {"in_flight": {"query": 'sum(svc_in_flight{job="svc"})'}}}
    prober = Prober(target(scraped, prometheus, **gauges))
    assert until_seen(prober.sample_once, "breaker:ledger", ledger.state)["gauge:in_flight"].number == 7.0
    for state in ("open", "half_open", "closed"):
        ledger.move(state)
        seen = until_seen(prober.sample_once, "breaker:ledger", state)
        assert seen["breaker:ledger"].ok == (state == "closed")
    counted = {
        check: s.number for check, s in until_seen(prober.sample_once, "breaker:ledger", "closed").items()
    }
    assert {c: n for c, n in counted.items() if c.startswith("transitions:")} == {
        "transitions:ledger:closed>open": 1.0,
        "transitions:ledger:open>half_open": 1.0,
        "transitions:ledger:half_open>closed": 1.0,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("svc_circuit{", "Prometheus refused the query (HTTP 400, bad_data)"),
        ("svc_circuit[1m]", "the query returns a matrix, not an instant vector or scalar"),
    ],
    ids=["bad-promql", "range-vector"],
)
def test_a_query_prometheus_cannot_answer_is_a_failed_sample_saying_why(
    scraped: Service, prometheus: Prometheus, ledger: Breaker, query: str, expected: str
) -> None:
    gauges = {"gauges": {"odd": {"query": query}}}
    samples = {s.check: s for s in Prober(target(scraped, prometheus, **gauges)).sample_once()}
    error = samples["gauge:odd"].error
    assert error is not None and error.startswith(
        f"signals.gauges.odd: Prometheus {prometheus.url}: {expected}"
    )


def test_the_breaker_verifier_judges_breakers_read_through_prometheus(
    scraped: Service, prometheus: Prometheus, ledger: Breaker
) -> None:
    """The breaker's cycle driven in real time and read through Prometheus, then placed on a synthetic timeline
    whose fault window is when the test opened it and when it let it close."""
    prober = Prober(target(scraped, prometheus), interval_s=0.25)
    started = time.time()
    prober.start()
    try:
        latest = lambda: prober.samples[-8:]  # noqa: E731 - the last round or two, as the thread recorded them
        until_seen(latest, "breaker:ledger", "closed")
        injected = time.time()
        ledger.move("open")
        until_seen(latest, "breaker:ledger", "open")
        ledger.move("half_open")
        until_seen(latest, "breaker:ledger", "half_open")
        reverted = time.time()
        ledger.move("closed")
        until_seen(latest, "breaker:ledger", "closed")
    finally:
        prober.stop()
    probes = pd.DataFrame([asdict(s) for s in prober.samples], columns=PROBE_SCHEMA.names)
    probes["ts"] = probes["ts"] - started + T0
    window = fault("f", injected_s=injected - started, reverted_s=reverted - started)
    run = recording(requests_frame([]), faults=(window,), probes=probes, end_s=time.time() - started + 1)
    spec = breaker.Breaker(type="breaker", dependency="ledger", fault="f", open_within=5, close_within=5)
    verdict = breaker.verify(run, spec)
    assert verdict.passed, verdict.explanation
    assert verdict.measured is not None and verdict.details["flaps"] == 1.0
