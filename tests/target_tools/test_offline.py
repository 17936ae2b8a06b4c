"""``mlchaos target check`` and ``mlchaos init`` where no service is needed: refusals, the verifier-data table,
and the guesses init makes from metric families, answers and OpenAPI documents."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml
from target_tools_helpers import mlchaos, write_yaml

from mlchaos.experiments.init_files import Discovery, InitRefused
from mlchaos.experiments.init_guesses import Family, guess_answer, guess_signals
from mlchaos.experiments.init_yaml import flow, scenario_text, target_text, validated
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.openapi_hints import answer_choices, predict_paths, request_examples
from mlchaos.experiments.signals import BreakerSignal, TransitionSignal
from mlchaos.experiments.target_check import Findings, HealthCheck
from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.experiments.typical_bodies import typical_body
from mlchaos.experiments.verifier_data import Observed, Support, verifier_support
from mlchaos.experiments.verifiers import VERIFIERS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_check_of_an_unreachable_service_exits_2(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    target = write_yaml(tmp_path / "target.yaml", {"kind": "external", "service_url": url})
    result = mlchaos("target", "check", target)
    assert result.exit_code == 2, result.output
    assert f"the service at {url} is not ready (/health/ready: ConnectionError)" in result.output


def test_check_of_an_invalid_target_file_exits_2_pointing_at_the_line(tmp_path: Path) -> None:
    target = tmp_path / "target.yaml"
    target.write_text("kind: external\nservice_url: http://127.0.0.1:8080\ntiers: [gold, gold]\n")
    result = mlchaos("target", "check", target)
    assert result.exit_code == 2
    assert f"{target}:3:1: tiers: each tier once, best first; repeated: gold" in result.output


def test_every_verifier_of_mlchaos_says_what_data_it_needs() -> None:
    assert [name for name, verifier in VERIFIERS.items() if verifier.needs is None] == []


SEEN_ALL = Observed(
    answered=True,
    tier_on_ladder=True,
    prediction=True,
    confidence=True,
    score=True,
    review=True,
    shed=True,
    breakers=("db",),
    drift=True,
    labelled=True,
    gauges=("queue",),
)


def test_a_target_where_everything_reads_has_data_for_every_verifier() -> None:
    assert {name: support for name, support, _ in verifier_support(SEEN_ALL)} == dict.fromkeys(
        VERIFIERS, Support.YES
    )


def test_without_breaker_signals_the_breaker_verifier_has_no_data() -> None:
    """As ``target check`` sees a service that declares no signals: no probe samples at all."""
    endpoints = TargetEndpoints(service_url="http://127.0.0.1:1")
    findings = Findings(endpoints, [HealthCheck("ready", "/health/ready", 200)])
    support = {name: (level, why) for name, level, why in verifier_support(findings.observed())}
    assert support["breaker"][0] is Support.NO and "no breaker signal read" in support["breaker"][1]
    assert support["drift_detected_within"][0] is Support.NO
    gauge, why = support["gauge"]
    assert gauge is Support.NO and "declared in signals.gauges and readable" in why


@pytest.mark.parametrize(
    ("changed", "verifier", "expected"),
    [
        ({"labelled": False}, "quality", Support.NO),
        ({"predictions_are_labels": False}, "quality", Support.NO),
        ({"confidence": False}, "calibration", Support.NO),
        ({"score": False}, "metamorphic", Support.LIMITED),
        ({"shed": False}, "load_shedding", Support.LIMITED),
        ({"tier_on_ladder": False}, "fallback_order", Support.NO),
        ({"tier_on_ladder": False}, "mttd", Support.LIMITED),
        ({"review": False}, "ood_routing", Support.LIMITED),
        ({"answered": False}, "availability", Support.NO),
        ({"gauges": ()}, "gauge", Support.NO),
    ],
)
def test_what_a_verifier_misses_is_named(changed: dict[str, bool], verifier: str, expected: Support) -> None:
    seen = Observed(**{**SEEN_ALL.__dict__, **changed})
    [(level, why)] = [(level, why) for name, level, why in verifier_support(seen) if name == verifier]
    assert level is expected and why


def test_init_refuses_a_production_looking_host_before_sending_anything(
    tmp_path: Path, no_network: None
) -> None:
    result = mlchaos("init", "http://fraud-prod.example:8080", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "host 'fraud-prod.example' looks like production ('prod' is a word of it)" in result.output
    assert "nothing was sent to it" in result.output
    assert not (tmp_path / "out").exists()


def test_init_refuses_to_overwrite_the_files_it_would_write(tmp_path: Path, no_network: None) -> None:
    (tmp_path / "target.yaml").write_text("mine\n")
    result = mlchaos("init", f"http://127.0.0.1:{free_port()}", "--out", tmp_path)
    assert result.exit_code == 2
    assert "target.yaml already exist(s): not overwritten (--force to replace)" in result.output
    assert (tmp_path / "target.yaml").read_text() == "mine\n"
    assert not (tmp_path / "scenario.yaml").exists()


def family(name: str, kind: str, values: tuple[float, ...], **labels: tuple[str, ...]) -> Family:
    return Family(name, kind, labels, values)


def test_a_gauge_whose_value_is_the_state_is_suggested_with_states_said_to_be_guessed() -> None:
    guesses = guess_signals([family("svc_circuit", "gauge", (0.0, 2.0), target=("db", "model"))])
    [breaker] = guesses.breakers
    signal = BreakerSignal.model_validate(breaker.declaration)
    assert signal.dependency_label == "target" and signal.state_label is None
    assert signal.states_shown == "closed: '0', open: '1', half_open: '2'"
    assert "GUESSED" in breaker.comments[0] and "target: db, model" in breaker.comments[1]


def test_one_series_per_state_is_read_from_the_label_whose_values_name_states() -> None:
    gauge = family("cb_state", "gauge", (1.0, 0.0), upstream=("db",), mode=("CLOSED", "HALF-OPEN", "OPEN"))
    counter = family("cb_changes", "counter", (3.0,), old=("CLOSED",), new=("OPEN",), upstream=("db",))
    guesses = guess_signals([gauge, counter])
    breaker = BreakerSignal.model_validate(guesses.breakers[0].declaration)
    assert (breaker.state_label, breaker.dependency_label) == ("mode", "upstream")
    assert breaker.state_of("HALF-OPEN") is not None and breaker.state_of("OPEN") is not None
    transitions = TransitionSignal.model_validate(guesses.transitions[0].declaration)
    assert (transitions.from_label, transitions.to_label) == ("old", "new")


def test_a_breaker_named_gauge_that_is_no_state_is_listed_not_declared() -> None:
    failures = family("breaker_failures", "gauge", (7.0,), target=("db",))
    drift = family("feature_drift_alarm", "gauge", (0.0,))
    guesses = guess_signals([failures, drift])
    assert guesses.breakers == [] and guesses.unused == [failures]
    assert guesses.alarm is not None and guesses.alarm.declaration == {"metric": "feature_drift_alarm"}


def test_answer_fields_are_guessed_from_one_answer() -> None:
    answer = {
        "result": {"items": [{"name": "risk", "values": ["deny", 0.91]}]},
        "info": {"certainty": 0.91, "request_id": "r-1", "flag_for_review": False, "was_shed": False},
    }
    guesses = guess_answer(answer, {"Content-Type": "application/json", "X-Served-From": "large"})
    assert {name: guess.spec for name, guess in guesses.items()} == {
        "tier": "header:X-Served-From",
        "prediction": "result.items.0.values.0",
        "score": "result.items.0.values.1",
        "review": "info.flag_for_review",
        "shed": "info.was_shed",
    }
    named = guess_answer({"tier": "big", "label": "ok", "confidence": 0.8, "score": 0.2}, {})
    assert {name: guess.spec for name, guess in named.items()} == {
        "tier": "tier",
        "prediction": "label",
        "confidence": "confidence",
        "score": "score",
    }


DOCUMENT = {
    "paths": {
        "/health": {"get": {}},
        "/v1/feedback": {
            "post": {"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}}
        },
        "/v1/classify": {
            "post": {
                "requestBody": {
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/In"}}}
                },
                "responses": {
                    "200": {
                        "headers": {"X-Tier": {"schema": {"type": "string", "enum": ["big", "small"]}}},
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Out"}}},
                    }
                },
            }
        },
    },
    "components": {
        "schemas": {
            "In": {
                "type": "object",
                "properties": {
                    "ref": {"type": "string", "pattern": "^K[0-9]+$", "example": "K7"},
                    "txn": {"type": "object", "properties": {"price": {"type": "number", "example": 3.5}}},
                },
            },
            "Out": {"type": "object", "properties": {"model": {"$ref": "#/components/schemas/Model"}}},
            "Model": {"type": "string", "enum": ["big", "small"]},
        }
    },
}


def test_what_init_reads_of_an_openapi_document() -> None:
    assert predict_paths(DOCUMENT) == ["/v1/classify", "/v1/feedback"]
    assert request_examples(DOCUMENT, "/v1/classify") == {"ref": "K7", "txn.price": 3.5}
    assert answer_choices(DOCUMENT, "/v1/classify", "header:x-tier") == ("big", "small")
    assert answer_choices(DOCUMENT, "/v1/classify", "model") == ("big", "small")
    assert answer_choices(DOCUMENT, "/v1/classify", "other") == ()


def test_a_typical_body_holds_every_feature_at_a_typical_value() -> None:
    schema = RequestSchema.model_validate(
        {
            "features": {
                "ref": {"type": "id"},
                "txn.price": {"type": "number", "min": 0, "max": 100, "typical": [10, 20]},
                "txn.items": {"type": "integer", "min": 1, "max": 9},
                "channel": {"type": "category", "choices": ["web", "app"]},
                "night": {"type": "bool"},
            }
        }
    )
    assert typical_body(schema, {"ref": "K7"}) == {
        "ref": "K7",
        "txn": {"price": 15.0, "items": 5},
        "channel": "web",
        "night": False,
    }


@pytest.mark.parametrize("value", ["on", "a: b", "{{ uniform(0, 1) }}", "#x", {"y": ["no", 1.5]}, "C-0042"])
def test_values_written_into_the_yaml_read_back_as_themselves(value: object) -> None:
    assert yaml.safe_load(f"key: {flow(value)}  # a comment") == {"key": value}


def test_a_staging_host_is_written_as_the_one_allowed_host_and_the_files_validate(tmp_path: Path) -> None:
    """What init writes for a service on another host, from what it found there (built here: no traffic)."""
    found = Discovery("https://scoring.staging.example", "scoring.staging.example")
    found.schema = RequestSchema.model_validate(
        {"features": {"ref": {"type": "id"}, "n": {"type": "integer"}}}
    )
    found.answer_error = "HTTP 503: warming up"
    target, scenario = target_text(found, {}), scenario_text(found, "Scoring!", tmp_path, {})
    validated(target, scenario, allow_production=False)
    document = yaml.safe_load(target)
    assert document["allowed_hosts"] == ["scoring.staging.example"]
    assert document["response"] == {"tier": "tier", "prediction": "prediction", "confidence": "confidence"}
    assert (
        "# fill in: POST /predict answered HTTP 503: warming up, so nothing could be read from it" in target
    )
    assert yaml.safe_load(scenario)["name"] == "scoring-bad-inputs"


def test_a_production_host_allowed_on_the_command_line_is_not_allowed_in_the_file(tmp_path: Path) -> None:
    found = Discovery("https://fraud-prod.example", "fraud-prod.example", production=True)
    found.schema = RequestSchema.model_validate({"features": {"n": {"type": "number"}}})
    target, scenario = target_text(found, {}), scenario_text(found, "fraud", tmp_path, {})
    assert "every command needs --allow-production to contact it" in " ".join(target.split())
    validated(target, scenario, allow_production=True)
    with pytest.raises(InitRefused, match="looks like production"):
        validated(target, scenario, allow_production=False)
