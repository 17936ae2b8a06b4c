"""The prober reads the real reference stack through its declaration, and records failures as data."""

from __future__ import annotations

import requests

from mlchaos.experiments.probes import Prober
from mlchaos.experiments.signal_mapping import declared
from mlchaos.experiments.signal_reading import from_exposition
from mlchaos.experiments.targets import REFERENCE_DECLARATION, TargetEndpoints, declared_endpoints
from mlchaos.staging.endpoints import StackEndpoints


def reference(url: str) -> TargetEndpoints:
    """The embedded target's endpoints: the reference stack's declaration at ``url``."""
    return declared_endpoints(REFERENCE_DECLARATION, service_url=url)


def test_samples_health_breaker_states_and_transition_counters(stack: StackEndpoints) -> None:
    samples = Prober(reference(stack.gateway_url)).sample_once()
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
    assert [s for s in samples if not s.ok and s.value is None] == []  # every declared signal was readable


def test_breaker_transitions_are_counted_even_when_shorter_than_a_sample(stack: StackEndpoints) -> None:
    metrics = requests.get(f"{stack.gateway_url}/metrics", timeout=5).text
    checks = {r.check for r in from_exposition(declared(REFERENCE_DECLARATION.signals), metrics)}
    assert {c for c in checks if c.startswith("breaker:")} == {
        "breaker:feature_store",
        "breaker:primary_model",
        "breaker:cache",
    }
    assert "transitions:feature_store:open>half_open" in checks


def test_an_unreachable_target_gives_failed_samples_with_reasons() -> None:
    samples = Prober(reference("http://127.0.0.1:9")).sample_once()
    assert [s.check for s in samples] == ["ready", "live", "inference", "metrics"]
    assert all(not s.ok and s.error == "ConnectionError" for s in samples)
