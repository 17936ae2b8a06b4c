"""``mlchaos schema``: the JSON Schema an editor checks files with accepts the catalogue as it is written, refuses
what the loader refuses for the same reason, and is the one the catalogue's files name on their modeline."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from mlchaos.experiments import file_schemas
from mlchaos.experiments.cli import app
from mlchaos.experiments.file_schemas import FileKind, json_schema
from mlchaos.injectors import fault_kinds

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"
CATALOGUE: dict[Path, FileKind] = {
    **{path: FileKind.scenario for path in sorted((ROOT / "scenarios").glob("*.yaml"))},
    **{path: FileKind.suite for path in sorted((ROOT / "scenarios" / "suites").glob("*.yaml"))},
    ROOT / "tests" / "own_service" / "target.template.yaml": FileKind.target,  # the fullest target example
}
MODELINE = "# yaml-language-server: $schema="

runner = CliRunner()


def printed_schema(kind: FileKind) -> dict[str, Any]:
    result = runner.invoke(app, ["schema", kind.value])
    assert result.exit_code == 0, result.output
    schema: dict[str, Any] = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


@pytest.fixture(scope="module")
def validators() -> dict[FileKind, jsonschema.Draft202012Validator]:
    return {kind: jsonschema.Draft202012Validator(printed_schema(kind)) for kind in FileKind}


def problems(validator: jsonschema.Draft202012Validator, data: Any) -> list[str]:
    return [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(data)
    ]


@pytest.mark.parametrize("path", list(CATALOGUE), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_each_catalogue_file_is_valid_against_the_printed_schema_it_names(
    path: Path, validators: dict[FileKind, jsonschema.Draft202012Validator]
) -> None:
    kind = CATALOGUE[path]
    text = path.read_text(encoding="utf-8")
    assert not problems(validators[kind], yaml.safe_load(text))
    modelines = [line.removeprefix(MODELINE) for line in text.splitlines() if line.startswith(MODELINE)]
    expected = os.path.relpath(REFERENCE / f"{kind.value}.schema.json", path.parent)
    assert modelines == [expected], f"{path.name} should name its schema: {MODELINE}{expected}"


def test_the_catalogue_covers_every_kind_of_file() -> None:
    assert set(CATALOGUE.values()) == set(FileKind)


SCENARIO = {
    "name": "written-by-hand",
    "load": {"users": 2, "wait": ["20ms", 0.05], "body": {"amount": "{{ range(1, 9) | random }}"}},
    "steady_state": {"window": "8s", "min_tier_share": {"primary": 0.9}},
    "faults": [{"id": "fs", "type": "feature_store_outage", "at": "2s", "duration": "1.5m"}],
    "verifiers": [{"type": "mttr", "fault": "fs", "max": "8s"}],
    "abort_when": [{"metric": "error_rate", "above": 0.5, "for": 5}],
}


@pytest.mark.parametrize(
    ("change", "accepted"),
    [
        ({}, True),
        ({"target": "embedded"}, True),  # the shorthand
        ({"target": "targets/staging.yaml"}, True),  # a target file, read by the loader
        ({"target": {"kind": "external", "service_url": "http://127.0.0.1:8080"}}, True),
        ({"recovery": "500ms"}, True),
        ({"recovery": "soon"}, False),  # not a duration
        ({"recovery": "-5s"}, False),
        ({"target": "docker"}, False),  # no such kind, and no target file
        ({"target": {"kind": "external"}}, False),  # service_url is required
        ({"verifers": []}, False),  # a typo: unknown field
        ({"faults": [{"id": "x", "type": "cpu_hog", "duration": 1}]}, False),  # no such fault type
        ({"faults": [{"id": "x", "type": "latency", "duration": 1, "latency": 200}]}, False),  # unknown field
        ({"load": {"users": "many", "body": {}}}, False),
    ],
)
def test_the_schema_takes_what_authors_write_and_refuses_what_the_loader_refuses(
    change: dict[str, Any], accepted: bool, validators: dict[FileKind, jsonschema.Draft202012Validator]
) -> None:
    found = problems(validators[FileKind.scenario], {**SCENARIO, **change})
    assert (not found) == accepted, found


def test_help_teaches_the_editor_setup() -> None:
    result = runner.invoke(app, ["schema", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert "mlchaos schema scenario > scenario.schema.json" in result.output
    assert "# yaml-language-server: $schema=scenario.schema.json" in result.output


def test_an_unknown_kind_is_refused_naming_the_kinds() -> None:
    result = runner.invoke(app, ["schema", "scenarios"])
    assert result.exit_code == 2
    assert "scenario" in result.output and "suite" in result.output and "target" in result.output


def test_the_committed_schemas_leave_out_the_kinds_of_installed_packages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Printed, the schema knows every installed kind; committed, only mlchaos's own — else the repository's
    copy would depend on what a machine has installed."""
    installed = fault_kinds()["traffic_spike"].spec  # stands in for a kind an installed package registered
    monkeypatch.setattr(file_schemas, "plugin_specs", lambda: [installed])
    spike = {**SCENARIO, "faults": [{"id": "s", "type": "traffic_spike", "multiplier": 3, "duration": 5}]}
    committed = jsonschema.Draft202012Validator(json_schema(FileKind.scenario, plugins=False))
    printed = jsonschema.Draft202012Validator(json_schema(FileKind.scenario))
    assert problems(committed, spike) and not problems(printed, spike)
    assert not problems(committed, SCENARIO)
    assert "TrafficSpike" not in committed.schema["$defs"]
    assert "traffic_spike" not in json.dumps(committed.schema)
