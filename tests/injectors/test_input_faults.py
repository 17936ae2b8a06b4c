"""ML input faults as injectors: what they plan, how a scenario declares them (and is told what is wrong), and
adversarial samples made against a live model server before the load — within the query budget, the same under
the same seed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter

from mlchaos.experiments.inputs import CorruptSend, CovariateSend, MetamorphicSend, Mutator, OodSend, Relation
from mlchaos.experiments.inputs.inference import resolve_schema
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.loader import ScenarioInvalid, load_scenario
from mlchaos.experiments.targets import ResponseFields, TargetEndpoints
from mlchaos.injectors import INJECTORS, AnyFault, FaultSpec, InputContext
from mlchaos.injectors.adversarial_samples import AdversarialSamples
from mlchaos.injectors.base import InputFaultSpec, OnRequests, TargetMisconfigured

TARGET = TargetEndpoints(service_url="http://127.0.0.1:1")
KEY_ORDER = {"name": "key_order", "operation": "reorder_keys", "expect": "same"}


def fault(**fields: Any) -> FaultSpec:
    spec: FaultSpec = TypeAdapter(AnyFault).validate_python({"id": "t", "duration": 5, **fields})
    return spec


def test_input_faults_plan_what_the_load_sends_and_touch_nothing_else() -> None:
    cases = [
        (fault(type="corrupted_inputs", share=0.3), CorruptSend(mutators=tuple(Mutator))),
        (
            fault(type="distribution_shift", covariate={"scale": {"amount": 5}}),
            CovariateSend(scale={"amount": 5}),
        ),
        (fault(type="distribution_shift", ood=["extreme"]), OodSend(kinds=("extreme",))),
        (
            fault(type="metamorphic", relations=[KEY_ORDER]),
            MetamorphicSend(relations=(TypeAdapter(Relation).validate_python(KEY_ORDER),)),
        ),
    ]
    for spec, sends in cases:
        injector = INJECTORS[spec.type]
        plan = injector.plan(spec, TARGET)
        assert isinstance(spec, InputFaultSpec)
        assert plan.acts_on == OnRequests(share=spec.share, send=sends)
        assert type(sends) in injector.sends  # type: ignore[attr-defined]  # how the load child reads it back
        assert f"{spec.share:.0%}" in plan.description
        injector.check(plan.undo)
        injector.inject(spec, plan.undo)
        injector.revert(plan.undo)
        injector.revert(plan.undo)  # idempotent: nothing on the target to undo


def write_scenario(tmp_path: Path, faults: list[dict[str, Any]]) -> Path:
    (tmp_path / "requests.jsonl").write_text('{"body": {"amount": 1}}\n', encoding="utf-8")
    document = {
        "name": "inputs",
        "load": {"users": 1, "dataset": "requests.jsonl"},
        "faults": faults,
        "verifiers": [{"type": "availability", "min": 0.5}],
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path)
    return [str(p) for p in caught.value.problems]


def test_a_shift_declares_exactly_one_kind(tmp_path: Path) -> None:
    both = {
        "id": "s",
        "type": "distribution_shift",
        "duration": "5s",
        "ood": ["extreme"],
        "label_prior": {"fraud_share": 1},
    }
    [problem] = problems(write_scenario(tmp_path, [both]))
    assert "scenario.yaml:" in problem and "exactly one of covariate, label_prior or ood" in problem


def test_an_unknown_mutator_is_named_with_the_known_ones(tmp_path: Path) -> None:
    bad = {"id": "c", "type": "corrupted_inputs", "duration": "5s", "mutators": ["nan", "nan_and_more"]}
    [problem] = problems(write_scenario(tmp_path, [bad]))
    assert "nan_and_more" in problem or "mutators" in problem
    assert "truncated_json" in problem


# A checkout service unlike the reference stack: its own answer shape, no score, its own request features.
CHECKOUT_TARGET = """\
target:
  kind: external
  service_url: http://127.0.0.1:9
  response: {tier: "header:X-Tier", confidence: outputs.0.data.0, prediction: outputs.0.label}
"""
CHECKOUT_RELATIONS = """\
faults:
  - id: m
    type: metamorphic
    duration: 5s
    relations:
      - {name: whitespace, operation: pretty_print, expect: same}
      - name: value_up
        operation: add
        field: value
        value: 3
        expect: same
      - {name: night_on, operation: set, field: night, from: false, to: true, expect: higher}
      - {name: basket, operation: add, field: basket_items, value: 1, expect: same}
verifiers: [{type: metamorphic}]
"""


def checkout_scenario(
    tmp_path: Path, target: str = CHECKOUT_TARGET, relations: str = CHECKOUT_RELATIONS
) -> Path:
    rows = [
        {"value_eur": 12.5, "night": False, "channel": "web", "basket_items": 2},
        {"value_eur": 80, "night": True, "channel": "pos", "basket_items": 1},
    ]
    (tmp_path / "checkout.jsonl").write_text(
        "".join(json.dumps({"body": r}) + "\n" for r in rows), encoding="utf-8"
    )
    path = tmp_path / "scenario.yaml"
    text = "name: checkout\n" + target + "load: {users: 1, dataset: checkout.jsonl}\n" + relations
    path.write_text(text, encoding="utf-8")
    return path


def test_relations_are_checked_against_the_services_schema_and_answers_at_their_lines(tmp_path: Path) -> None:
    """The schema is inferred from the dataset; the target reports no score, so `higher` cannot be judged."""
    path = checkout_scenario(tmp_path)
    assert problems(path) == [
        f"{path}:15:9: faults[0].relations[1].field: relation 'value_up': no feature 'value' in the request "
        "schema; its features: value_eur, night, channel, basket_items",
        f"{path}:18:79: faults[0].relations[2].expect: relation 'night_on' expects a higher score, and the "
        "target declares no response.score to read scores from: declare it, or expect 'same'",
    ]
    scored = CHECKOUT_TARGET.replace("outputs.0.label}", "outputs.0.label, score: outputs.0.data.1}")
    fixed = CHECKOUT_RELATIONS.replace("field: value\n", "field: value_eur\n")
    [loaded] = load_scenario(checkout_scenario(tmp_path, scored, fixed)).scenario.faults
    assert [r.name for r in loaded.relations] == ["whitespace", "value_up", "night_on", "basket"]  # type: ignore[attr-defined]


def test_relations_on_a_declared_schema_without_a_dataset_to_infer_from(tmp_path: Path) -> None:
    declared = CHECKOUT_TARGET + (
        "  request:\n    infer_from_dataset: false\n    features:\n"
        "      value_eur: {type: number, min: 0, max: 50000}\n      night: {type: bool}\n"
    )
    found = problems(checkout_scenario(tmp_path, declared))
    assert [p.split(": ", 2)[1] for p in found] == [
        "faults[0].relations[1].field",
        "faults[0].relations[2].expect",
        "faults[0].relations[3].field",
    ]
    assert "its features: value_eur, night" in found[0]


def test_an_unknown_operation_is_named_with_the_known_ones(tmp_path: Path) -> None:
    relations = CHECKOUT_RELATIONS.replace("operation: pretty_print", "operation: shuffle")
    [problem] = problems(checkout_scenario(tmp_path, relations=relations))
    assert problem == (
        f"{tmp_path / 'scenario.yaml'}:12:28: faults[0].relations[0].operation: unknown operation 'shuffle'; "
        "known: reorder_keys, pretty_print, as_float, add, multiply, set"
    )


def test_relation_names_are_unique_per_fault(tmp_path: Path) -> None:
    relations = CHECKOUT_RELATIONS.replace("name: basket,", "name: whitespace,")
    [problem] = problems(checkout_scenario(tmp_path, relations=relations))
    assert "faults[0].relations: each relation name once" in problem and "repeated: whitespace" in problem


def test_a_target_without_a_score_refuses_higher_and_lower_when_planned() -> None:
    spec = fault(type="metamorphic", relations=[{**KEY_ORDER, "name": "up", "expect": "lower"}])
    with pytest.raises(TargetMisconfigured, match=r"relation 'up' expects a lower score.*no response\.score"):
        INJECTORS["metamorphic"].plan(spec, TARGET)
    scored = TargetEndpoints(service_url="http://127.0.0.1:1", response=ResponseFields(score="p.1"))
    assert isinstance(INJECTORS["metamorphic"].plan(spec, scored).acts_on, OnRequests)


def test_a_bad_sample_file_is_reported_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "samples.jsonl").write_text(
        '{"input": {"amount": 1}}\n\n{"input": {"amount": 2}, "clen": {}}\nnot json\n', encoding="utf-8"
    )
    spec = {"id": "a", "type": "adversarial_samples", "duration": "5s", "samples": "samples.jsonl"}
    found = problems(write_scenario(tmp_path, [spec]))
    assert any("samples.jsonl:3: faults[0]: " in p and "clen" in p for p in found), found
    assert any("samples.jsonl:4: faults[0]: not JSON" in p for p in found), found


def test_a_missing_sample_file_says_where_it_was_looked_for(tmp_path: Path) -> None:
    spec = {"id": "a", "type": "adversarial_samples", "duration": "5s", "samples": "nowhere.jsonl"}
    [problem] = problems(write_scenario(tmp_path, [spec]))
    assert "not found" in problem and str(tmp_path / "nowhere.jsonl") in problem


def test_sample_files_are_read_relative_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "samples.jsonl").write_text('{"input": {"amount": 1}, "label": "fraud"}\n', encoding="utf-8")
    spec = {"id": "a", "type": "adversarial_samples", "duration": "5s", "samples": "samples.jsonl"}
    [loaded] = load_scenario(write_scenario(tmp_path, [spec])).scenario.faults
    assert isinstance(loaded, AdversarialSamples) and loaded.samples == (tmp_path / "samples.jsonl").resolve()


# -- prepared against a live model server -------------------------------------------------------------------


@dataclass
class Model:
    """A loopback model server: fraud when ``amount + 100 × merchant_risk`` exceeds 150; counts every query."""

    url: str = ""
    queries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def model() -> Iterator[Model]:
    state = Model()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms wait for an ACK

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.queries += 1
            score = (body["amount"] + 100 * body.get("merchant_risk", 0)) / 300
            answer = json.dumps(
                {"prediction": "fraud" if score > 0.5 else "legit", "score": min(score, 1)}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


CLEAN = tuple({"entity_id": f"u{i:04d}", "amount": 60.0 + 20 * i, "merchant_risk": 0.3} for i in range(8))


def context(model: Model, run_dir: Path, clean: tuple[dict[str, Any], ...] = CLEAN) -> InputContext:
    return InputContext(
        target=TargetEndpoints(service_url=model.url),
        clean=clean,
        run_dir=run_dir,
        seed=3,
        request_timeout_s=5,
        schema=resolve_schema(RequestSchema(), bodies=clean, openapi=None, predict_path="/predict"),
    )


NAMED_FEATURES = [{"name": "amount", "low": 0, "high": 400}, {"name": "merchant_risk", "low": 0, "high": 1}]


def attack_fault(budget: int, features: list[dict[str, Any]] | None = NAMED_FEATURES) -> AdversarialSamples:
    attack = {"budget": budget, "inputs": 6, "max_distance": 0.2}
    spec = fault(
        type="adversarial_samples", attack=attack if features is None else {**attack, "features": features}
    )
    assert isinstance(spec, AdversarialSamples)
    return spec


def test_an_attack_stays_within_its_budget_counted_at_the_server(model: Model, tmp_path: Path) -> None:
    made = INJECTORS["adversarial_samples"].prepare(attack_fault(budget=150), context(model, tmp_path))  # type: ignore[attr-defined]
    assert 0 < model.queries <= 150
    assert f"{model.queries}/150 queries" in made.summary
    samples = made.inputs.samples
    assert samples, "the model has a boundary within reach: the attack finds flips"
    for sample in samples:
        assert sample.input == "adversarial:boundary" and sample.pair.startswith("t/")
        score = (sample.body["amount"] + 100 * sample.body["merchant_risk"]) / 300
        assert ("fraud" if score > 0.5 else "legit") != sample.expected, "a replayed sample really flips"
    written = (tmp_path / "adversarial-t.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["adversarial"] for line in written] == [s.body for s in samples]


def test_an_attack_is_the_same_under_the_same_seed(model: Model, tmp_path: Path) -> None:
    injector: Any = INJECTORS["adversarial_samples"]
    first = injector.prepare(attack_fault(budget=120), context(model, tmp_path))
    queries = model.queries
    second = injector.prepare(attack_fault(budget=120), context(model, tmp_path))
    assert first.inputs == second.inputs and model.queries == 2 * queries


def test_by_default_an_attack_moves_the_numeric_features_of_the_schema(model: Model, tmp_path: Path) -> None:
    """The schema is inferred from the clean requests: amount ranges over 60..200 (widened to 46..214);
    merchant_risk is always 0.3 and has no declared bounds, so nothing says how far it may move."""
    made = INJECTORS["adversarial_samples"].prepare(
        attack_fault(150, features=None), context(model, tmp_path)
    )  # type: ignore[attr-defined]
    samples = made.inputs.samples
    assert samples, "the model's boundary (amount 120) is within reach"
    assert made.summary.startswith("boundary attack on amount: ")
    clean = {c["entity_id"]: c for c in CLEAN}
    for sample in samples:
        original = clean[sample.body["entity_id"]]
        assert sample.body["merchant_risk"] == original["merchant_risk"] == 0.3
        assert 46 <= sample.body["amount"] <= 214 and sample.body["amount"] != original["amount"]


def test_attack_features_must_be_numeric_features_of_the_schema(model: Model, tmp_path: Path) -> None:
    injector: Any = INJECTORS["adversarial_samples"]
    named = [{"name": "entity_id", "low": 0, "high": 1}, {"name": "amount", "low": 0, "high": 400}]
    with pytest.raises(
        TargetMisconfigured, match="feature 'entity_id' is id, not a number; the numeric ones: amount"
    ):
        injector.prepare(attack_fault(100, named), context(model, tmp_path))
    assert model.queries == 0, "refused before the first query"
    words = tuple({"entity_id": f"u{i}", "note": "x"} for i in range(4))
    with pytest.raises(TargetMisconfigured, match="the request schema has none with a known range"):
        injector.prepare(attack_fault(100, features=None), context(model, tmp_path, clean=words))


def test_named_attack_features_are_checked_when_the_scenario_is_loaded(tmp_path: Path) -> None:
    attack = {
        "budget": 10,
        "features": [{"name": "amount", "low": 0, "high": 9}, {"name": "merchant", "low": 0, "high": 1}],
    }
    spec = {"id": "a", "type": "adversarial_samples", "duration": "5s", "attack": attack}
    [problem] = problems(write_scenario(tmp_path, [spec]))
    assert "faults[0].attack.features[1].name: no feature 'merchant' in the request schema" in problem


def test_supplied_samples_expect_what_the_target_answers_their_clean_counterparts(
    model: Model, tmp_path: Path
) -> None:
    lines = [
        {"input": {"amount": 170, "merchant_risk": 0}, "clean": {"amount": 140, "merchant_risk": 0}},
        {"input": {"amount": 10, "merchant_risk": 0}, "label": "fraud"},
    ]
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    spec = fault(type="adversarial_samples", samples=str(path))
    made = INJECTORS["adversarial_samples"].prepare(spec, context(model, tmp_path))  # type: ignore[attr-defined]
    assert [(s.input, s.expected, s.pair) for s in made.inputs.samples] == [
        ("adversarial:supplied", "legit", "t/0"),  # asked of the target
        ("adversarial:supplied", "fraud", "t/1"),  # no clean counterpart: the true label stands in
    ]
    assert model.queries == 1


def test_the_engine_places_input_windows_on_the_load_clock(tmp_path: Path) -> None:
    """The child's clock starts with the load: a window opens after the ramp, the baseline and the fault's ``at``."""
    from mlchaos.experiments.load.spec_from_scenario import load_spec
    from mlchaos.experiments.plan import make_plan

    faults: list[dict[str, Any]] = [
        {
            "id": "c",
            "type": "corrupted_inputs",
            "share": 0.3,
            "at": "2s",
            "duration": "5s",
            "mutators": ["nan"],
        },
        {
            "id": "s",
            "type": "distribution_shift",
            "share": 0.5,
            "covariate": {"scale": {"amount": 5}},
            "duration": "4s",
        },
        {"id": "a", "type": "adversarial_samples", "attack": {"budget": 10}, "duration": "4s"},
    ]
    path = write_scenario(tmp_path, faults)
    text = path.read_text(encoding="utf-8").replace("users: 1", "users: 4\n  spawn_rate: 2")
    path.write_text(text + "steady_state: {window: 6s}\n", encoding="utf-8")
    plan = make_plan(load_scenario(path).scenario, TARGET)
    spec = load_spec(plan, 60.0)
    ramp, baseline = 2.0, 6.0
    assert [(w.fault_id, w.start_s, w.end_s, w.share) for w in spec.inputs] == [
        ("c", ramp + baseline + 2, ramp + baseline + 7, 0.3),
        ("s", ramp + baseline, ramp + baseline + 4, 0.5),
    ]  # the attack's window appears once its samples are made, before the load starts
    assert spec.inputs[0].send == CorruptSend(mutators=(Mutator.NAN,))
