"""The prober reads real health endpoints and breaker metrics, and records failures as data."""

from __future__ import annotations

import requests

from mlchaos.experiments.probes import Prober, read_breakers
from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.staging.endpoints import StackEndpoints


def test_samples_health_breaker_states_and_transition_counters(stack: StackEndpoints) -> None:
    samples = Prober(TargetEndpoints(service_url=stack.gateway_url)).sample_once()
    by_check = {s.check: s for s in samples}
    assert {by_check[c].value for c in ("ready", "live", "inference")} == {"200"}
    assert {c for c in by_check if c.startswith("breaker:")} == {
        "breaker:feature_store",
        "breaker:primary_model",
        "breaker:cache",
    }
    assert by_check["breaker:feature_store"].value == "closed" and by_check["breaker:feature_store"].ok
    opened = by_check["transitions:feature_store:closed>open"]
    assert opened.number is not None and opened.number >= 0


def test_breaker_transitions_are_counted_even_when_shorter_than_a_sample(stack: StackEndpoints) -> None:
    metrics = requests.get(f"{stack.gateway_url}/metrics", timeout=5).text
    breakers = read_breakers(metrics)
    assert set(breakers.states) == {"feature_store", "primary_model", "cache"}
    assert ("feature_store", "open", "half_open") in breakers.transitions


def test_an_unreachable_target_gives_failed_samples_with_reasons() -> None:
    samples = Prober(TargetEndpoints(service_url="http://127.0.0.1:9")).sample_once()
    assert [s.check for s in samples] == ["ready", "live", "inference", "metrics"]
    assert all(not s.ok and s.error == "ConnectionError" for s in samples)
