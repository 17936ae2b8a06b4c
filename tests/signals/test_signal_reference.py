"""The reference stack's declaration (staging/declaration.py) read from the reference gateway's own /metrics text,
rendered by its metrics code: the embedded target's breakers and drift monitor go through the same declared
signals as any team's service."""

from __future__ import annotations

from mlchaos.experiments.signal_mapping import Reading, declared
from mlchaos.experiments.signal_reading import from_exposition
from mlchaos.experiments.targets import REFERENCE_DECLARATION
from mlchaos.staging.gateway.breaker import BreakerState
from mlchaos.staging.gateway.drift import DRIFT_FEATURES, DriftState
from mlchaos.staging.gateway.metrics import GatewayMetrics

DEPENDENCIES = ("feature_store", "primary_model", "cache")


def test_the_reference_gateway_read_through_its_declaration() -> None:
    metrics = GatewayMetrics(DEPENDENCIES)
    metrics.on_transition("feature_store", BreakerState.CLOSED, BreakerState.OPEN)
    metrics.on_transition("feature_store", BreakerState.OPEN, BreakerState.HALF_OPEN)
    metrics.show_drift(DriftState(dict.fromkeys(DRIFT_FEATURES, 9.0), alarm=True, onsets=1), onset=True)
    text = metrics.render([]).decode()

    readings = {r.check: r for r in from_exposition(declared(REFERENCE_DECLARATION.signals), text)}

    assert [r for r in readings.values() if not r.ok and r.value is None] == []  # nothing unreadable
    assert {c: r.value for c, r in readings.items() if c.startswith("breaker:")} == {
        "breaker:feature_store": "half_open",
        "breaker:primary_model": "closed",
        "breaker:cache": "closed",
    }
    assert readings["transitions:feature_store:closed>open"].number == 1.0
    assert readings["transitions:feature_store:open>half_open"].number == 1.0
    # The gateway shows every transition from the start (at 0), so a first one is an increase, not a new series.
    assert readings["transitions:cache:half_open>closed"].number == 0.0
    assert readings["drift:alarm"] == Reading("drift:alarm", False, "1", 1.0)
    assert readings["drift:alarms_total"] == Reading("drift:alarms_total", True, number=1.0)
