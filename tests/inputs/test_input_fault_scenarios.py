"""Input faults as a scenario declares them, on a service unlike the reference stack: features they name are checked
against its request schema — at the scenario's lines when the schema is known before the run, and once it is
resolved (with the service's OpenAPI spec) before anything is sent."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fake_service import FakeService
from input_schemas import checkout_rows
from support.cli_runs import run_mlchaos
from test_schema_inference import CHECKOUT_OPENAPI

from mlchaos.experiments.inputs import CorruptSend, Mutator
from mlchaos.experiments.inputs.contract import InputContract
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.loader import ScenarioInvalid, load_scenario
from mlchaos.experiments.service_schema import SchemaUnusable, run_schema, template_bodies
from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.injectors import INJECTORS, OnRequests

TARGET = """\
target:
  kind: external
  service_url: http://127.0.0.1:9
  predict_path: /score
  input_contract: {extra_fields: ignore, content_type: strict}
  request:
    features:
      value_eur: {type: number, min: 0, max: 50000}
"""


def scenario(tmp_path: Path, faults: str, target: str = TARGET) -> Path:
    rows = "".join(json.dumps({"body": row}) + "\n" for row in checkout_rows(50))
    (tmp_path / "checkout.jsonl").write_text(rows, encoding="utf-8")
    path = tmp_path / "scenario.yaml"
    text = (
        "name: checkout\n"
        + target
        + "load: {users: 1, dataset: checkout.jsonl}\n"
        + faults
        + "verifiers: [{type: availability, min: 0.5}]\n"
    )
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path)
    return [str(p) for p in caught.value.problems]


SHIFT = """\
faults:
  - id: drift
    type: distribution_shift
    duration: 5s
    covariate:
      scale: {amount: 5, value_eur: 2}
      categories: {channel: {web: 1, kiosk: 1}}
  - id: bad
    type: corrupted_inputs
    duration: 5s
    field: entity_id
"""


def test_features_the_service_does_not_have_are_refused_at_their_lines(tmp_path: Path) -> None:
    path = scenario(tmp_path, SHIFT)
    found = problems(path)
    assert [p.split(": ", 2)[:2] for p in found] == [
        [f"{path}:16:15", "faults[0].covariate.scale.amount"],
        [f"{path}:17:38", "faults[0].covariate.categories.channel.kiosk"],
        [f"{path}:21:5", "faults[1].field"],
    ]
    assert "a covariate shift moves numeric features: value_eur, basket_items" in found[0]
    assert "'entity_id' is not a feature of the request" in found[2]


def test_extreme_needs_a_numeric_feature_with_room(tmp_path: Path) -> None:
    tight = TARGET.replace("max: 50000}", "max: 2000, typical: [0, 2000]}")
    tight += "      basket_items: {type: integer, min: 1, max: 40, typical: [1, 40]}\n"
    faults = "faults:\n  - {id: ood, type: distribution_shift, duration: 5s, ood: [garbage, extreme]}\n"
    [problem] = problems(scenario(tmp_path, faults, tight))
    assert ": faults[0].ood[1]: 'extreme' needs a numeric feature with a typical range" in problem


def test_the_plan_carries_the_targets_contract_and_defers_the_field_to_the_schema() -> None:
    target = TargetEndpoints(
        service_url="http://127.0.0.1:9",
        input_contract=InputContract(extra_fields="ignore", max_body_bytes=4096),
    )
    spec: Any = INJECTORS["corrupted_inputs"].spec.model_validate(
        {"id": "c", "type": "corrupted_inputs", "duration": 5}
    )
    acts_on = INJECTORS["corrupted_inputs"].plan(spec, target).acts_on
    assert isinstance(acts_on, OnRequests)
    inputs = acts_on.send
    assert inputs == CorruptSend(mutators=tuple(Mutator), contract=target.input_contract)
    assert inputs.field is None and inputs.oversize_bytes is None


def test_a_schema_completed_from_the_openapi_spec_is_checked_before_the_run(tmp_path: Path) -> None:
    """Validation could not know the spec's features; the resolved schema refuses the fault, naming where."""
    target = TARGET.replace("  request:\n", "  request:\n    openapi: /openapi.json\n")
    faults = (
        "faults:\n  - {id: drift, type: distribution_shift, duration: 5s, "
        "covariate: {scale: {order.items: 2, total: 3}}}\n"
    )
    loaded = load_scenario(scenario(tmp_path, faults, target)).scenario  # nothing to check it against yet
    endpoints = TargetEndpoints(service_url="http://127.0.0.1:9", request=loaded.target.declaration.request)
    with pytest.raises(SchemaUnusable) as caught:
        run_schema(
            endpoints, loaded.faults, bodies=checkout_rows(), predict_path="/score", openapi=CHECKOUT_OPENAPI
        )
    assert str(caught.value).startswith(
        "the input faults do not fit the service's request schema — fault 'drift': covariate.scale.total: 'total' "
        "is not a feature of the request"
    )
    assert "order.items" not in str(caught.value).split("numeric features:")[0], "the spec's order.items fits"
    with pytest.raises(
        SchemaUnusable, match=r"OpenAPI spec \(/openapi.json\): the document describes no POST /x"
    ):
        run_schema(endpoints, loaded.faults, bodies=[], predict_path="/x", openapi=CHECKOUT_OPENAPI)


def test_a_templated_load_lends_its_rendered_bodies() -> None:
    template = {
        "value_eur": "{{ uniform(1, 30) }}",
        "channel": "{{ choice(['web', 'app']) }}",
        "night": False,
    }
    bodies = template_bodies(template, seed=3)
    assert len(bodies) == 50 and all(
        1 <= b["value_eur"] <= 30 and b["channel"] in ("web", "app") for b in bodies
    )
    endpoints = TargetEndpoints(service_url="http://127.0.0.1:9", request=RequestSchema())
    schema = run_schema(endpoints, [], bodies=bodies, predict_path="/score")
    assert schema.describe() == "value_eur (number), channel (category), night (bool)"
    assert template_bodies({"x": "{{ nope }}"}, seed=3) == []


@pytest.mark.parametrize(
    ("openapi", "said"),
    [
        (CHECKOUT_OPENAPI, "fault 'drift': covariate.scale.total: 'total' is not a feature of the request"),
        (None, "could not read the OpenAPI spec" + "|" + "answered HTTP 404"),
    ],
    ids=["fault-does-not-fit", "no-spec"],
)
def test_a_run_is_invalid_before_any_load_when_its_faults_do_not_fit_the_served_schema(
    tmp_path: Path, service: FakeService, openapi: dict[str, Any] | None, said: str
) -> None:
    service.answers["/health/ready"] = (200, {}, b"{}")
    if openapi is not None:
        service.answers["/openapi.json"] = (
            200,
            {"Content-Type": "application/json"},
            json.dumps(openapi).encode(),
        )
    target = TARGET.replace("http://127.0.0.1:9", service.url).replace(
        "  request:\n", "  request:\n    openapi: /openapi.json\n"
    )
    faults = (
        "faults:\n  - {id: drift, type: distribution_shift, duration: 5s, "
        "covariate: {scale: {order.items: 2, total: 3}}}\n"
    )
    result = run_mlchaos("run", "--out", str(tmp_path / "runs"), str(scenario(tmp_path, faults, target)))
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert re.search(said, output), output
    assert service.posts == 0, "nothing was sent to the service"
