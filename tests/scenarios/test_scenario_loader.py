"""The scenario loader: valid files become typed scenarios; invalid ones are reported in full, by line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mlchaos.experiments import loader
from mlchaos.experiments.loader import (
    Problem,
    ScenarioInvalid,
    load_scenario,
    load_scenarios,
    load_target,
)
from mlchaos.experiments.targets import ExternalTarget
from mlchaos.experiments.verifiers import VERIFIERS
from mlchaos.injectors import INJECTORS

VALID = Path(__file__).parent / "valid"
MALFORMED = Path(__file__).parent / "malformed"
Write = Callable[..., Path]

TEMPLATED = """\
    name: templated
    target: embedded
    load:
      users: 2
      body: {amount: "{{ uniform(1, 500) }}", country: DE, note: "{# is not a template here"}
    faults:
      - id: fs
        type: feature_store_outage
        duration: 10s
    verifiers:
      - type: availability
    """


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path)
    problems: list[Problem] = caught.value.problems
    return problems


def lines_and_texts(problems: list[Problem]) -> list[tuple[int | None, str]]:
    return [(p.line, f"{p.where}: {p.message}" if p.where else p.message) for p in problems]


# --- valid scenarios


def test_minimal_scenario_loads_with_durations_in_seconds_and_the_dataset_resolved() -> None:
    path = VALID / "minimal.yaml"
    loaded = load_scenario(path)
    scenario = loaded.scenario
    assert loaded.path == path
    assert loaded.text == path.read_text(encoding="utf-8")
    assert scenario.load.dataset == (VALID / "requests.jsonl").resolve()
    assert scenario.load.dataset.is_absolute()
    assert scenario.load.wait == (0.02, 0.08)
    assert scenario.faults[0].at == 0.5  # "500ms"
    assert scenario.faults[0].duration == 10.0  # "10s"
    assert scenario.verifiers[1].max == 120.0  # "2m", of the mttr verifier


def test_dataset_is_resolved_relative_to_the_scenario_not_the_working_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(VALID.parent.parent)
    loaded = load_scenario(Path("scenarios/valid/minimal.yaml"))
    assert loaded.scenario.load.dataset == (VALID / "requests.jsonl").resolve()


def test_template_body_loads_and_only_strings_with_jinja_delimiters_are_templates(write: Write) -> None:
    scenario = load_scenario(write(TEMPLATED)).scenario
    assert scenario.load.body is not None and scenario.load.body["country"] == "DE"
    assert scenario.load.dataset is None


def test_load_scenarios_returns_the_valid_ones_and_all_problems_of_the_others() -> None:
    paths = [VALID / "minimal.yaml", MALFORMED / "wrong_type_users.yaml", MALFORMED / "duration_garbage.yaml"]
    loaded, problems = load_scenarios(paths)
    assert [f.scenario.name for f in loaded] == ["minimal"]
    assert {p.file for p in problems} == set(paths[1:])


# --- Problem and ScenarioInvalid


def test_problem_reads_like_a_compiler_message() -> None:
    problem = Problem(
        Path("scenarios/x.yaml"),
        14,
        5,
        "faults[1].duration",
        "expected a duration such as 5, '500ms', '10s' or '2m', got 'soon'",
    )
    assert str(problem) == (
        "scenarios/x.yaml:14:5: faults[1].duration: "
        "expected a duration such as 5, '500ms', '10s' or '2m', got 'soon'"
    )


def test_problem_leaves_out_what_it_does_not_know() -> None:
    assert str(Problem(Path("x.yaml"), None, None, "", "empty file")) == "x.yaml: empty file"
    problem = Problem(Path("x.jsonl"), 3, None, "load.dataset", "not JSON")
    assert str(problem) == "x.jsonl:3: load.dataset: not JSON"


def test_every_problem_of_a_file_is_reported_in_line_order(write: Write) -> None:
    path = write("""\
        name: many-problems
        load:
          users: many
          body: {x: 1}
        faults:
          - id: fs
            type: feature_store_outage
            duration: soon
          - id: hog
            type: cpu_hog
            duration: 5s
        verifers:
          - type: availability
        name: again
        """)
    problems = problems_of(path)
    assert lines_and_texts(problems) == [
        (1, "verifiers: missing required field 'verifiers'"),
        (3, "load.users: expected a valid integer, got 'many'"),
        (8, "faults[0].duration: expected a duration such as 5, '500ms', '10s' or '2m', got 'soon'"),
        (10, "faults[1].type: unknown fault type 'cpu_hog'; known: " + ", ".join(sorted(INJECTORS))),
        (12, "verifers: unknown field 'verifers'; did you mean 'verifiers'?"),
        (14, "name: duplicate key 'name' (first at line 1); YAML would silently keep only the last value"),
    ]
    assert str(ScenarioInvalid(problems)) == "\n".join(str(p) for p in problems)


def test_semantic_problems_are_all_reported_together(write: Write) -> None:
    path = write("""\
        name: dangling
        load: {dataset: nowhere.jsonl}
        faults:
          - {id: fs, type: feature_store_outage, duration: 10s}
          - {id: fs, type: feature_store_outage, at: 20s, duration: 10s}
        verifiers:
          - {type: mttr, fault: fs-down, max: 5s}
          - {type: fallback_engaged, fault: slow, tiers: [fallback]}
        """)
    assert [(line, text.split(";")[0]) for line, text in lines_and_texts(problems_of(path))] == [
        (2, f"load.dataset: dataset 'nowhere.jsonl': not found (looked for {path.parent / 'nowhere.jsonl'})"),
        (5, "faults[1].id: duplicate fault id 'fs' (also faults[0])"),
        (7, "verifiers[0].fault: no fault with id 'fs-down'"),
        (8, "verifiers[1].fault: no fault with id 'slow'"),
    ]


# --- messages rewritten for authors


def test_unknown_types_list_the_registries(write: Write) -> None:
    path = write("""\
        name: unknown-types
        load: {body: {x: 1}}
        faults:
          - {id: a, type: zzz, duration: 1s}
        verifiers:
          - {type: qqq}
        """)
    assert [text for _, text in lines_and_texts(problems_of(path))] == [
        "faults[0].type: unknown fault type 'zzz'; known: " + ", ".join(sorted(INJECTORS)),
        "verifiers[0].type: unknown verifier type 'qqq'; known: " + ", ".join(sorted(VERIFIERS)),
    ]


def test_missing_type_says_which_field_and_the_known_types(write: Write) -> None:
    path = write("""\
        name: no-type
        load: {body: {x: 1}}
        faults:
          - {id: a, duration: 1s}
        verifiers:
          - {type: availability}
        """)
    assert lines_and_texts(problems_of(path)) == [
        (4, "faults[0]: missing required field 'type'; known: " + ", ".join(sorted(INJECTORS))),
    ]


def test_an_unknown_field_far_from_any_lists_the_valid_ones(write: Write) -> None:
    path = write("""\
        name: far-off
        load: {body: {x: 1}, zebra: 1}
        faults:
          - {id: a, type: pod_kill, program: primary-model, duration: 1s}
        verifiers:
          - {type: availability}
        """)
    [(line, text)] = lines_and_texts(problems_of(path))
    assert line == 2
    assert text == (
        "load.zebra: unknown field 'zebra'; valid: body, dataset, locustfile, max_response_bytes, path, "
        "request_timeout, spawn_rate, user_classes, users, wait, warmup, workers"
    )


def test_aliased_fields_are_suggested_as_written_in_yaml(write: Write) -> None:
    path = write("""\
        name: alias
        load: {body: {x: 1}}
        faults:
          - {id: a, type: pod_kill, program: primary-model, duration: 1s}
        verifiers:
          - {type: mttr, fault: a, max: 5s, frm: revert}
        abort_when:
          - {metric: error_rate, above: 0.5, fr: 2s}
        """)
    texts = [text for _, text in lines_and_texts(problems_of(path))]
    assert "verifiers[0].frm: unknown field 'frm'; did you mean 'from'?" in texts
    assert "abort_when[0].fr: unknown field 'fr'; did you mean 'for'?" in texts


def test_a_nested_duplicate_key_is_named_by_its_path(write: Write) -> None:
    path = write("""\
        name: nested-duplicate
        load: {body: {x: 1}}
        faults:
          - id: a
            type: pod_kill
            program: primary-model
            duration: 1s
            duration: 2s
        verifiers:
          - {type: availability}
        """)
    assert lines_and_texts(problems_of(path)) == [
        (
            8,
            "faults[0].duration: duplicate key 'duration' (first at line 7); YAML would silently keep only "
            "the last value",
        ),
    ]


def test_keys_merged_in_and_overridden_are_not_duplicates(write: Write) -> None:
    path = write("""\
        name: merged
        load: {body: {x: 1}}
        faults:
          - &outage {id: a, type: feature_store_outage, duration: 10s}
          - {<<: *outage, id: b, at: 20s}
        verifiers:
          - {type: availability}
        """)
    faults = load_scenario(path).scenario.faults
    assert [(f.id, f.at, f.duration) for f in faults] == [("a", 0.0, 10.0), ("b", 20.0, 10.0)]


# --- files that cannot be read or parsed


def test_a_zero_byte_file_is_empty(write: Write) -> None:
    assert lines_and_texts(problems_of(write(""))) == [(None, "empty file; expected a mapping of fields")]


def test_a_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path / "nope.yaml")
    assert problem.message == "cannot read the file: No such file or directory"


def test_a_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: café\n".encode("latin-1"))
    [problem] = problems_of(path)
    assert problem.message.startswith("cannot read the file: not UTF-8 text")


def test_several_documents_in_one_file_are_a_yaml_error(write: Write) -> None:
    [problem] = problems_of(write("name: a\n---\nname: b\n"))
    assert (problem.line, problem.message) == (
        2,
        "invalid YAML: expected a single document in the stream at line 1, but found another document",
    )


def test_aliases_that_form_a_cycle_do_not_hang(write: Write) -> None:
    problems = problems_of(write("name: cycle\nload: &l {body: {x: 1}, users: *l}\n"))
    assert any(p.where == "load.users" for p in problems)


# --- the dataset


def dataset_scenario(write: Write, lines: list[str]) -> Path:
    write("\n".join(lines) + "\n", name="requests.jsonl")
    return write("""\
        name: dataset
        load: {dataset: requests.jsonl}
        faults:
          - {id: fs, type: feature_store_outage, duration: 10s}
        verifiers:
          - {type: availability}
        """)


def test_dataset_lines_that_are_not_requests_are_reported_at_their_own_line(write: Write) -> None:
    good = json.dumps({"body": {"amount": 1}, "label": "legit"})
    path = dataset_scenario(write, [good, "", '{"body": [1], "label": 3}', '{"bdy": {}}', good])
    dataset = path.parent / "requests.jsonl"
    problems = problems_of(path)
    assert [(p.file, p.line) for p in problems] == [(dataset, 3), (dataset, 4)]
    assert problems[0].message == (
        'expected {"body": {...}, "label": ...}; body: expected a mapping, '
        "got a list; label: expected a valid string, got 3"
    )
    assert "bdy: unknown field 'bdy'; did you mean 'body'?" in problems[1].message
    assert "body: missing required field 'body'" in problems[1].message


def test_only_the_first_dataset_problems_are_listed(write: Write) -> None:
    problems = problems_of(dataset_scenario(write, ["nope"] * 25))
    assert len(problems) == loader.MAX_DATASET_PROBLEMS + 1
    assert problems[-1].message == f"... and {25 - loader.MAX_DATASET_PROBLEMS} more bad lines"


def test_only_the_head_of_the_dataset_is_read(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_DATASET_LINES", 2)
    good = json.dumps({"body": {"amount": 1}})
    load_scenario(dataset_scenario(write, [good, good, "not json at all"]))


def test_an_empty_dataset_is_reported(write: Write) -> None:
    [problem] = problems_of(dataset_scenario(write, [""]))
    assert problem.message.startswith("no requests")


# --- target files (--target)


def test_a_target_file_loads(write: Write) -> None:
    path = write("kind: external\nservice_url: http://127.0.0.1:8080/\n", "target.yaml")
    target, problems = load_target(path)
    assert problems == []
    assert isinstance(target, ExternalTarget) and target.service_url == "http://127.0.0.1:8080"


def test_a_target_file_reports_its_problems(write: Write) -> None:
    path = write("kind: external\nservice_url: http://10.0.0.8\nproxy: {fs: fs}\n", "target.yaml")
    target, problems = load_target(path)
    assert target is None
    assert lines_and_texts(problems) == [
        (
            2,
            "service_url: host '10.0.0.8' is not in allowed_hosts (empty: only loopback); add it there to "
            "allow traffic to it",
        ),
        (3, "proxy: unknown field 'proxy'; did you mean 'proxies'?"),
    ]


def test_a_target_file_with_an_unknown_kind(write: Write) -> None:
    target, problems = load_target(write("kind: docker\n", "target.yaml"))
    assert target is None
    assert lines_and_texts(problems) == [
        (1, "kind: unknown kind 'docker'; known: embedded, external, kubernetes")
    ]
