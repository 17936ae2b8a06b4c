"""``mlchaos target check`` and ``mlchaos init`` on riskd, another team's service (one stack for the module): its
own paths, a nested answer read through list indices, the tier in a header, breaker gauges whose value is the
state — declared in full by tests/own_service/target.template.yaml, or found by ``mlchaos init``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from own_service.workspace import filled_target
from riskd.stack import RiskdEndpoints, RiskdStack
from target_tools_helpers import mlchaos

from mlchaos.experiments.loader import load_target
from mlchaos.experiments.session import external_endpoints
from mlchaos.experiments.target_check import look
from mlchaos.experiments.targets import ExternalTarget

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def riskd() -> Iterator[RiskdEndpoints]:
    with RiskdStack() as stack:
        yield stack.endpoints


def declaration(riskd: RiskdEndpoints, path: Path, *, replace: tuple[str, str] | None = None) -> Path:
    """riskd's full declaration (the team's target file) for this stack."""
    text = filled_target(riskd)
    if replace is not None:
        assert replace[0] in text
        text = text.replace(*replace)
    path.write_text(text, encoding="utf-8")
    return path


def test_check_reads_riskd_with_its_full_declaration(riskd: RiskdEndpoints, tmp_path: Path) -> None:
    path = declaration(riskd, tmp_path / "target.yaml")
    result = mlchaos("target", "check", path)
    assert result.exit_code == 0, result.output
    assert result.output.endswith("✓ everything the target declares could be read")

    target, _ = load_target(path)
    assert isinstance(target, ExternalTarget)
    findings = look(external_endpoints(target), [], count=1)
    # the breakers, read from the gauge whose value is the state (0 closed, 1 open, 2 half-open)
    states = {s.check: s.value for s in findings.signals if s.check.startswith("breaker:")}
    assert states == {"breaker:profiles": "closed", "breaker:scorer": "closed"}
    [answer] = findings.answers
    assert (answer.status, answer.tier, answer.prediction) == (200, "gold", "allow")
    assert {b.name: b.ok for b in findings.backends} == {
        "profiles-db": True,
        "scorer-rpc": True,
        "profiles": True,
        "scorer": True,
        "risk-api": True,
        "toxiproxy": True,
    }


def test_check_names_a_declared_metric_the_service_does_not_have(
    riskd: RiskdEndpoints, tmp_path: Path
) -> None:
    wrong = ("metric: riskd_upstream_circuit\n", "metric: riskd_upstream_circuit_state\n")
    path = declaration(riskd, tmp_path / "target.yaml", replace=wrong)
    result = mlchaos("target", "check", path)
    assert result.exit_code == 1, result.output
    closing = result.output[result.output.rindex("✗") :]
    assert "signals.breakers[0]: no metric 'riskd_upstream_circuit_state'" in closing


def test_init_finds_what_riskd_publishes_and_its_files_validate_and_check(
    riskd: RiskdEndpoints, tmp_path: Path
) -> None:
    result = mlchaos("init", riskd.service_url, "--out", tmp_path, "--openapi", "/api/v2/openapi.json")
    assert result.exit_code == 0, result.output

    validated = mlchaos("validate", tmp_path / "scenario.yaml")
    assert validated.exit_code == 0, validated.output
    checked = mlchaos("target", "check", tmp_path / "target.yaml")
    assert checked.exit_code == 0, checked.output

    target, _ = load_target(tmp_path / "target.yaml")
    assert isinstance(target, ExternalTarget)
    assert target.predict_path == "/api/v2/score"
    assert (target.health.live, target.health.ready, target.health.metrics) == (
        "/healthz",
        "/readyz",
        "/internal/metrics",
    )
    response = target.response
    assert response.tier.lower() == "header:x-served-by"
    assert (response.prediction, response.score, response.confidence) == (
        "outputs.0.data.0",
        "outputs.0.data.1",
        "meta.confidence",
    )
    assert (response.review, response.shed) == ("meta.needs_review", "meta.load_shed")
    assert target.tiers == ("gold", "silver", "bronze", "default")
    [breaker] = target.signals.breakers
    assert (breaker.dependency_label, breaker.state_label) == ("upstream", None)
    assert breaker.states_shown == "closed: '0', open: '1', half_open: '2'"
    [transitions] = target.signals.transitions
    assert transitions.state_of("HALF_OPEN") is not None


def test_init_again_into_the_same_folder_is_refused(riskd: RiskdEndpoints, tmp_path: Path) -> None:
    first = mlchaos("init", riskd.service_url, "--out", tmp_path, "--openapi", "/api/v2/openapi.json")
    assert first.exit_code == 0, first.output
    written = {p.name: p.read_text() for p in tmp_path.iterdir()}
    again = mlchaos("init", riskd.service_url, "--out", tmp_path, "--openapi", "/api/v2/openapi.json")
    assert again.exit_code == 2
    assert "already exist(s): not overwritten (--force to replace)" in again.output
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == written
    forced = mlchaos(
        "init", riskd.service_url, "--out", tmp_path, "--openapi", "/api/v2/openapi.json", "--force"
    )
    assert forced.exit_code == 0, forced.output
