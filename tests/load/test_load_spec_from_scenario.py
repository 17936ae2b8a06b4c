"""What the engine puts into the load spec: the target's whole response mapping, and a scenario's locustfile."""

from __future__ import annotations

from pathlib import Path

from mlchaos.experiments.load.spec_from_scenario import load_spec
from mlchaos.experiments.loader import load_scenario
from mlchaos.experiments.plan import make_plan, placeholder_endpoints
from mlchaos.experiments.targets import EmbeddedTarget, ResponseFields, TargetEndpoints

LOCUSTFILE = "from locust import FastHttpUser\n\n\nclass Scorer(FastHttpUser):\n    pass\n"
SCENARIO = """name: team-spike
load:
  users: 2
  locustfile: users/team_users.py
  user_classes: [Scorer]
faults:
  - id: spike
    type: traffic_spike
    multiplier: 3
    duration: 5s
verifiers:
  - type: availability
"""


def write(tmp_path: Path) -> Path:
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "team_users.py").write_text(LOCUSTFILE, encoding="utf-8")
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


def test_the_spec_carries_the_locustfile_text_the_targets_mapping_and_the_spike(tmp_path: Path) -> None:
    response = ResponseFields(
        tier="header:X-Served-By",
        confidence="outputs.0.data.1",
        prediction="result.label",
        shed="header:X-Load",
    )
    target = TargetEndpoints(service_url="http://127.0.0.1:1", response=response)
    spec = load_spec(make_plan(load_scenario(write(tmp_path)).scenario, target), 30.0)

    assert spec.locustfile is not None
    assert spec.locustfile.source == LOCUSTFILE
    assert spec.locustfile.path == str(tmp_path / "users" / "team_users.py")
    assert spec.locustfile.user_classes == ("Scorer",)
    assert (spec.requests, spec.template, spec.inputs) == ((), None, ())
    fields = (spec.tier_field, spec.confidence_field, spec.prediction_field)
    assert fields == ("header:X-Served-By", "outputs.0.data.1", "result.label")
    assert (spec.score_field, spec.review_field, spec.shed_field) == (None, None, "header:X-Load")
    assert [stage.users for stage in spec.stages] == [6, 2]  # the spike drives the team's users too


def test_the_reference_stack_declares_its_review_and_shed_fields(tmp_path: Path) -> None:
    target = placeholder_endpoints(EmbeddedTarget())
    spec = load_spec(make_plan(load_scenario(write(tmp_path)).scenario, target), 30.0)
    assert (spec.score_field, spec.review_field, spec.shed_field) == ("score", "review", "header:X-Shed")


def test_the_spec_carries_the_hosts_the_scenarios_target_allows(tmp_path: Path) -> None:
    path = write(tmp_path)
    external = (
        "target:\n  kind: external\n  service_url: http://127.0.0.1:1\n"
        "  allowed_hosts: [auth.staging.example]\n  allow_production: true\n"
    )
    path.write_text(SCENARIO.replace("load:\n", external + "load:\n", 1), encoding="utf-8")
    spec = load_spec(
        make_plan(load_scenario(path).scenario, TargetEndpoints(service_url="http://127.0.0.1:1")), 30.0
    )
    assert (spec.allowed_hosts, spec.allow_production) == (("auth.staging.example",), True)
