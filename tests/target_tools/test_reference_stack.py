"""``mlchaos target check`` and ``mlchaos init`` on the embedded reference stack (one stack for the module),
reached as an external target — its declaration is one preset among others."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from target_tools_helpers import mlchaos, write_yaml

from mlchaos.experiments.loader import load_target
from mlchaos.experiments.session import external_endpoints
from mlchaos.experiments.target_check import look
from mlchaos.experiments.targets import ExternalTarget
from mlchaos.staging.declaration import DECLARATION
from mlchaos.staging.endpoints import StackEndpoints
from mlchaos.staging.options import StackOptions
from mlchaos.staging.stack import EmbeddedStack

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def stack() -> Iterator[StackEndpoints]:
    with EmbeddedStack(StackOptions()) as running:
        yield running.endpoints


def external(path: Path) -> ExternalTarget:
    target, problems = load_target(path)
    assert isinstance(target, ExternalTarget), problems
    return target


def test_check_reads_the_reference_stack_through_its_declaration(
    stack: StackEndpoints, tmp_path: Path
) -> None:
    path = write_yaml(tmp_path / "target.yaml", stack.as_external_target())
    result = mlchaos("target", "check", path)
    assert result.exit_code == 0, result.output
    assert result.output.endswith("✓ everything the target declares could be read")

    findings = look(external_endpoints(external(path)), [], count=2)
    assert findings.problems == []
    states = {s.check: s.value for s in findings.signals if s.check.startswith("breaker:")}
    assert states == {f"breaker:{name}": "closed" for name in ("feature_store", "primary_model", "cache")}
    ladder = tuple(DECLARATION["tiers"])
    assert [(a.status, a.tier in ladder) for a in findings.answers] == [(200, True)] * 2
    assert findings.fields["tier"][2] == "on the ladder"


def test_init_writes_a_target_and_scenario_that_validate_and_check(
    stack: StackEndpoints, tmp_path: Path
) -> None:
    result = mlchaos("init", stack.gateway_url, "--out", tmp_path)
    assert result.exit_code == 0, result.output

    validated = mlchaos("validate", tmp_path / "scenario.yaml")
    assert validated.exit_code == 0, validated.output
    checked = mlchaos("target", "check", tmp_path / "target.yaml")
    assert checked.exit_code == 0, checked.output

    target = external(tmp_path / "target.yaml")
    assert target.predict_path == "/predict" and target.request.openapi == "/openapi.json"
    assert target.tiers == tuple(DECLARATION["tiers"])  # the OpenAPI spec's tier enum
    assert target.health.metrics == "/metrics" and target.health.inference == "/health/inference"
    [breaker] = target.signals.breakers
    declared = DECLARATION["signals"]["breakers"][0]
    assert (breaker.metric, breaker.dependency_label, breaker.state_label) == (
        declared["metric"],
        declared["dependency_label"],
        declared["state_label"],
    )
    assert target.allowed_hosts == ()  # loopback needs no listing
