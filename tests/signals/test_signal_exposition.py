"""Declared signals read from Prometheus text exposition: both ways of exposing a breaker's state, transition
counters of every kind, the drift monitor and extra gauges — and every way a declaration and a service can
disagree, each a failed reading that names the declaration and what was seen, never a guess."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from mlchaos.experiments.signal_mapping import Reading, declared
from mlchaos.experiments.signal_reading import SignalReadError, from_exposition
from mlchaos.experiments.signals import Signals


def read(signals: dict[str, Any], text: str) -> dict[str, Reading]:
    """The readings of ``signals`` (as a target file declares them) from ``text``, by check."""
    readings = from_exposition(declared(Signals.model_validate(signals)), text)
    by_check = {reading.check: reading for reading in readings}
    assert len(by_check) == len(readings), f"a check twice in one round: {readings}"
    return by_check


def exposition(build: Any) -> str:
    registry = CollectorRegistry()
    build(registry)
    return generate_latest(registry).decode()


def per_state_text(registry: CollectorRegistry) -> None:
    gauge = Gauge("svc_breaker", "", ["dep", "state"], registry=registry)
    for dependency, current in (("db", "open"), ("cache", "closed")):
        for state in ("closed", "open", "half_open"):
            gauge.labels(dependency, state).set(1 if state == current else 0)


PER_STATE = {"breakers": [{"metric": "svc_breaker", "dependency_label": "dep", "state_label": "state"}]}
NUMBERED = {"closed": "0", "open": "1", "half_open": "2"}


def test_one_series_per_state_names_the_current_state_in_a_label() -> None:
    readings = read(PER_STATE, exposition(per_state_text))
    assert readings["breaker:db"] == Reading("breaker:db", False, "open")
    assert readings["breaker:cache"] == Reading("breaker:cache", True, "closed")


def test_the_value_is_the_state_mapped_through_states() -> None:
    def text(registry: CollectorRegistry) -> None:
        gauge = Gauge("upstream_circuit", "", ["upstream"], registry=registry)
        gauge.labels("scores").set(2)
        gauge.labels("features").set(0)

    declaration = {
        "breakers": [{"metric": "upstream_circuit", "dependency_label": "upstream", "states": NUMBERED}]
    }
    readings = read(declaration, exposition(text))
    assert (readings["breaker:scores"].value, readings["breaker:features"].value) == ("half_open", "closed")


def test_state_names_the_service_writes_differently_are_renamed() -> None:
    def text(registry: CollectorRegistry) -> None:
        gauge = Gauge("cb", "", ["name", "phase"], registry=registry)
        gauge.labels("db", "CLOSED").set(0)
        gauge.labels("db", "TRIPPED").set(1)

    declaration = {
        "breakers": [
            {
                "metric": "cb",
                "dependency_label": "name",
                "state_label": "phase",
                "states": {"closed": "CLOSED", "open": "TRIPPED", "half_open": "PROBING"},
            }
        ]
    }
    assert read(declaration, exposition(text))["breaker:db"].value == "open"


def test_label_matchers_select_the_series_and_a_fixed_dependency_names_them() -> None:
    def text(registry: CollectorRegistry) -> None:
        gauge = Gauge("circuit", "", ["pool"], registry=registry)
        gauge.labels("reads").set(1)
        gauge.labels("writes").set(0)

    declaration = {
        "breakers": [
            {"metric": "circuit", "labels": {"pool": "reads"}, "dependency": "db", "states": NUMBERED}
        ]
    }
    assert read(declaration, exposition(text)) == {"breaker:db": Reading("breaker:db", False, "open")}


@pytest.mark.parametrize("declared_name", ["svc_changes", "svc_changes_total"], ids=["name", "name_total"])
def test_transitions_with_from_and_to_labels_mapped_through_states(declared_name: str) -> None:
    def text(registry: CollectorRegistry) -> None:
        counter = Counter("svc_changes", "", ["upstream", "from", "to"], registry=registry)
        counter.labels("db", "CLOSED", "OPEN").inc(3)
        counter.labels("db", "OPEN", "HALF_OPEN").inc(2)

    declaration = {
        "transitions": [
            {
                "metric": declared_name,
                "dependency_label": "upstream",
                "from_label": "from",
                "to_label": "to",
                "states": {"closed": "CLOSED", "open": "OPEN", "half_open": "HALF_OPEN"},
            }
        ]
    }
    readings = read(declaration, exposition(text))
    assert readings == {
        "transitions:db:closed>open": Reading("transitions:db:closed>open", True, number=3.0),
        "transitions:db:open>half_open": Reading("transitions:db:open>half_open", True, number=2.0),
    }


def test_a_counter_of_one_kind_adds_up_its_series() -> None:
    def text(registry: CollectorRegistry) -> None:
        counter = Counter("db_breaker_opened", "", ["instance"], registry=registry)
        counter.labels("a").inc(2)
        counter.labels("b").inc(1)

    declaration = {
        "transitions": [
            {"metric": "db_breaker_opened", "dependency": "db", "from_state": "closed", "to_state": "open"}
        ]
    }
    readings = read(declaration, exposition(text))
    assert readings == {"transitions:db:closed>open": Reading("transitions:db:closed>open", True, number=3.0)}


def test_a_labelled_counter_that_counted_nothing_yet_is_no_reading_and_no_failure() -> None:
    text = exposition(
        lambda registry: Counter("svc_changes", "", ["upstream", "from", "to"], registry=registry)
    )
    declaration = {
        "transitions": [
            {"metric": "svc_changes", "dependency_label": "upstream", "from_label": "from", "to_label": "to"}
        ]
    }
    assert read(declaration, text) == {}


def drift_text(alarm: float, onsets: int) -> str:
    def build(registry: CollectorRegistry) -> None:
        Gauge("model_drift_alarm", "", registry=registry).set(alarm)
        Counter("model_drift_alarms", "", registry=registry).inc(onsets)

    return exposition(build)


DRIFT = {
    "drift": {"alarm": {"metric": "model_drift_alarm"}, "onsets": {"metric": "model_drift_alarms_total"}}
}


def test_a_raised_drift_alarm_and_its_onsets() -> None:
    readings = read(DRIFT, drift_text(alarm=1, onsets=2))
    assert readings["drift:alarm"] == Reading("drift:alarm", False, "1", 1.0)
    assert readings["drift:alarms_total"] == Reading("drift:alarms_total", True, number=2.0)
    quiet = read(DRIFT, drift_text(alarm=0, onsets=0))
    assert quiet["drift:alarm"] == Reading("drift:alarm", True, "0", 0.0)


def test_an_alarm_per_feature_is_raised_while_any_is() -> None:
    def text(registry: CollectorRegistry) -> None:
        gauge = Gauge("drift_alarm", "", ["feature"], registry=registry)
        gauge.labels("income").set(0)
        gauge.labels("country").set(1)

    assert read({"drift": {"alarm": {"metric": "drift_alarm"}}}, exposition(text))["drift:alarm"].value == "1"


def test_extra_gauges_are_numbers_by_name() -> None:
    def text(registry: CollectorRegistry) -> None:
        Gauge("queue_depth", "", registry=registry).set(17)
        Gauge("pool_in_use", "", ["pool"], registry=registry).labels("a").set(3)

    declaration = {"gauges": {"queue": {"metric": "queue_depth"}, "pool": {"metric": "pool_in_use"}}}
    readings = read(declaration, exposition(text))
    assert readings["gauge:queue"] == Reading("gauge:queue", True, number=17.0)
    assert readings["gauge:pool"].number == 3.0


@pytest.mark.parametrize(
    ("declaration", "text", "check", "expected"),
    [
        pytest.param(
            {"breakers": [{"metric": "circuit", "dependency": "db", "states": NUMBERED}]},
            "circuit 3\n",
            "breaker:db",
            "signals.breakers[0]: value 3 maps to no state in signals.breakers[0].states "
            "(closed: '0', open: '1', half_open: '2') (dependency 'db')",
            id="unmapped-value",
        ),
        pytest.param(
            PER_STATE,
            'svc_breaker{dep="db",state="closed"} 0\nsvc_breaker{dep="db",state="FORCED_OPEN"} 1\n',
            "breaker:db",
            "signals.breakers[0]: state='FORCED_OPEN' maps to no state in signals.breakers[0].states",
            id="unmapped-state-label",
        ),
        pytest.param(
            PER_STATE,
            'svc_breaker{dep="db",state="closed"} 0\nsvc_breaker{dep="db",state="open"} 0\n',
            "breaker:db",
            "signals.breakers[0]: no series is at 1 (state: closed=0, open=0), so there is no one current state",
            id="no-state-at-1",
        ),
        pytest.param(
            PER_STATE,
            'svc_breaker{dep="db",state="closed"} 1\nsvc_breaker{dep="db",state="open"} 1\n',
            "breaker:db",
            "signals.breakers[0]: 2 series are at 1 (state: closed=1, open=1)",
            id="two-states-at-1",
        ),
        pytest.param(
            PER_STATE,
            "other_metric 1\n",
            "signal:breakers[0]",
            "signals.breakers[0]: no metric 'svc_breaker' in the service's metrics (health.metrics)",
            id="missing-metric",
        ),
        pytest.param(
            {"breakers": [{"metric": "circuit", "dependency_label": "upstream", "states": NUMBERED}]},
            'circuit{pool="a"} 1\n',
            "signal:breakers[0]",
            "signals.breakers[0]: 1 series without the label 'upstream' that names the dependency",
            id="no-dependency-label",
        ),
        pytest.param(
            {"transitions": [{"metric": "changes", "dependency": "db", "from_label": "f", "to_label": "t"}]},
            'changes_total{f="closed",t="exploded"} 1\n',
            "signal:transitions[0]",
            "signals.transitions[0]: t='exploded' maps to no state in signals.transitions[0].states "
            "(closed: 'closed', open: 'open', half_open: 'half_open') (dependency 'db')",
            id="unmapped-transition",
        ),
        pytest.param(
            {"gauges": {"queue": {"metric": "queue_depth"}}},
            'queue_depth{shard="1"} 3\nqueue_depth{shard="2"} 4\n',
            "gauge:queue",
            "signals.gauges.queue: 2 series where one was expected of queue_depth",
            id="ambiguous-gauge",
        ),
        pytest.param(
            DRIFT,
            "model_drift_alarms_total 0\n",
            "signal:drift.alarm",
            "signals.drift.alarm: no metric 'model_drift_alarm' in the service's metrics (health.metrics)",
            id="missing-drift-alarm",
        ),
    ],
)
def test_a_declaration_the_service_does_not_match_is_a_failed_reading_naming_both(
    declaration: dict[str, Any], text: str, check: str, expected: str
) -> None:
    reading = read(declaration, text)[check]
    assert not reading.ok and reading.value is None and reading.number is None
    assert reading.error is not None and reading.error.startswith(expected), reading.error


def test_one_unreadable_dependency_leaves_the_others_readable() -> None:
    text = exposition(per_state_text) + 'svc_breaker{dep="queue",state="stuck"} 1\n'
    readings = read(PER_STATE, text)
    assert readings["breaker:db"].value == "open" and readings["breaker:cache"].value == "closed"
    assert readings["breaker:queue"].error is not None and "state='stuck'" in readings["breaker:queue"].error


def test_unparsable_metrics_are_one_error() -> None:
    with pytest.raises(SignalReadError, match="unparsable metrics"):
        read(PER_STATE, "svc_breaker{dep=db} not-a-number\n")
