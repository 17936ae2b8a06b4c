"""The scenario loader under fuzzing: whatever a file holds, ``mlchaos validate`` gives a scenario or located problems.

Hypothesis feeds :func:`load_scenario` (what ``mlchaos validate`` and ``mlchaos run`` call for every file) with
random bytes, random text, random YAML and JSON documents, and mutations of the shipped scenarios — structured
(fields deleted, replaced by values of the wrong type, huge or non-finite numbers, unicode, unknown fields) and
textual (tabs, a BOM, repeated lines that make duplicate keys, anchors and aliases, stray brackets, truncation).
The property: a valid :class:`Scenario` that can be recorded, or :class:`ScenarioInvalid` whose every problem
names the file, a line and a column and says something — never any other exception.

The runs are derandomized (the same cases every time, in CI too) and bounded: ``EXAMPLES`` cases per strategy,
``len(STRATEGIES) * EXAMPLES`` in all (docs/robustness.md's table states the number).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from robustness_helpers import TRACEBACK
from support.cli_runs import ROOT, run_mlchaos

from mlchaos.experiments.loader import ScenarioInvalid, load_scenario
from mlchaos.experiments.scenario import Scenario, scenario_record

EXAMPLES = 200
DATA_LINES = 40
STRATEGIES = 5  # the @given tests below
SEEDS = [
    *sorted((ROOT / "scenarios").glob("*.yaml")),
    ROOT / "tests" / "scenarios" / "valid" / "minimal.yaml",
]
EMPTY_FILE = "empty file; expected a mapping of fields"  # the one problem with no line to point at

FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same cases on every run: CI is reproducible
    database=None,
    deadline=None,  # a slow example is not a failure; a hang is stopped by pytest-timeout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Values of every YAML type, with the awkward ones over-represented: huge and non-finite numbers, unicode
# (surrogates excluded: they cannot be written to a UTF-8 file), durations that are almost valid.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, -(2**63), 10**40, -1, 0]),
    st.floats(),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
    st.sampled_from(
        ["10s", "-5s", "1.5m", "500 ms", "10q", "9" * 400 + "m", "", "\t", "embedded", "{{ x }}"]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# Fragments that mean something to YAML, inserted into the shipped scenarios' text.
FRAGMENTS = st.sampled_from(
    [
        "\t",
        "\ufeff",
        ": ",
        "- ",
        "&a ",
        "*a",
        "*missing",
        "<<: *a\n",
        "[",
        "]",
        "{",
        "}",
        "'",
        '"',
        "#",
        "\n",
        "!!binary ",
        "!!python/object:os.system ",
        "%YAML 1.1\n",
        "---\n",
        "...\n",
        "? ",
        "|\n",
        "\x00",
        "\x1b",
        "\u2028",
        "é",
        "\U0001f600",
    ]
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where fuzzed files are written, beside the data files the shipped scenarios name (relative paths) — their
    heads only: checking 2,000 dataset lines per case would spend the time budget on the dataset, not the file
    being fuzzed (datasets have their own tests in tests/scenarios)."""
    directory = tmp_path_factory.mktemp("fuzz")
    (directory / "data").mkdir()
    for data in (ROOT / "scenarios" / "data").glob("*.jsonl"):
        head = data.read_text(encoding="utf-8").splitlines(keepends=True)[:DATA_LINES]
        (directory / "data" / data.name).write_text("".join(head), encoding="utf-8")
    shutil.copy(ROOT / "tests" / "scenarios" / "valid" / "requests.jsonl", directory / "requests.jsonl")
    return directory


def assert_valid_or_located(path: Path) -> None:
    """The property every input must satisfy (see the module docstring)."""
    try:
        loaded = load_scenario(path)
    except ScenarioInvalid as exc:
        assert exc.problems, "ScenarioInvalid without a problem"
        for problem in exc.problems:
            assert problem.message.strip(), problem
            if problem.message == EMPTY_FILE:
                continue
            assert problem.line is not None and problem.line >= 1, f"no line: {problem}"
            if problem.file == path:  # lines of a data file the scenario names may have no column
                assert problem.column is not None and problem.column >= 1, f"no column: {problem}"
            else:  # a line in another file: one that exists
                assert problem.file.is_file(), f"a line in a file that does not exist: {problem}"
        assert str(exc)
        return
    assert isinstance(loaded.scenario, Scenario)
    assert math.isfinite(loaded.scenario.duration)
    scenario_record(loaded.scenario)  # what a run writes first: a valid scenario must be recordable


def write(workdir: Path, content: str | bytes) -> Path:
    path = workdir / "fuzzed.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@FUZZ
@given(content=st.binary(max_size=600))
def test_random_bytes(workdir: Path, content: bytes) -> None:
    assert_valid_or_located(write(workdir, content))


@FUZZ
@given(content=st.text(st.characters(exclude_categories=["Cs"]), max_size=400))
def test_random_text(workdir: Path, content: str) -> None:
    assert_valid_or_located(write(workdir, content))


SCENARIO_FIELDS = sorted(field.alias or name for name, field in Scenario.model_fields.items())


@FUZZ
@given(
    document=st.dictionaries(st.sampled_from(SCENARIO_FIELDS) | st.text(max_size=8), VALUES, max_size=8)
    | VALUES,
    as_json=st.booleans(),
)
def test_random_documents(workdir: Path, document: Any, as_json: bool) -> None:
    text = json.dumps(document) if as_json else yaml.safe_dump(document, allow_unicode=True)
    assert_valid_or_located(write(workdir, text))


def paths_of(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in a YAML document (mapping keys and list indexes)."""
    found = [prefix]
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    for key, value in items:
        found += paths_of(value, (*prefix, key))
    return found


def mutate(data: Any, path: tuple[Any, ...], operation: str, value: Any) -> Any:
    """``data`` with the value at ``path`` deleted, replaced, or joined by an unknown field or a copy."""
    if not path:
        return value if operation == "replace" else data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if operation == "delete":
        del parent[last]
    elif operation == "replace":
        parent[last] = value
    elif operation == "add_field" and isinstance(parent, dict):
        parent[f"{last}_extra"] = value
    elif operation == "duplicate" and isinstance(parent, list):
        parent.append(parent[last])  # e.g. a second fault with the same id
    return data


@FUZZ
@given(
    seed=st.sampled_from(SEEDS),
    mutations=st.lists(
        st.tuples(
            st.integers(min_value=0),
            st.sampled_from(["delete", "replace", "add_field", "duplicate"]),
            VALUES,
        ),
        min_size=1,
        max_size=3,
    ),
    as_json=st.booleans(),
)
def test_structured_mutations_of_the_shipped_scenarios(
    workdir: Path, seed: Path, mutations: list[tuple[int, str, Any]], as_json: bool
) -> None:
    data = yaml.safe_load(seed.read_text(encoding="utf-8"))
    for index, operation, value in mutations:
        paths = paths_of(data)
        data = mutate(data, paths[index % len(paths)], operation, value)
    text = json.dumps(data) if as_json else yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    assert_valid_or_located(write(workdir, text))


@FUZZ
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(
        st.tuples(
            st.integers(min_value=0), st.sampled_from(["insert", "delete", "repeat_line", "cut"]), FRAGMENTS
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_textual_mutations_of_the_shipped_scenarios(
    workdir: Path, seed: Path, edits: list[tuple[int, str, str]]
) -> None:
    text = seed.read_text(encoding="utf-8")
    for position, operation, fragment in edits:
        at = position % (len(text) + 1)
        if operation == "insert":
            text = text[:at] + fragment + text[at:]
        elif operation == "delete":
            text = text[:at] + text[at + len(fragment) :]
        elif operation == "repeat_line":  # a repeated `key: value` line is a duplicate key
            start = text.rfind("\n", 0, at) + 1
            end = text.find("\n", at)
            line = text[start : end if end >= 0 else len(text)]
            text = text[:start] + line + "\n" + text[start:]
        else:
            text = text[:at]
    assert_valid_or_located(write(workdir, text))


# --- hostile inputs, each refused quickly and precisely

LOL = '["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'
BILLION_LAUGHS = (
    "name: laughs\nload:\n  users: 2\n  body:\n    a: &a "
    + LOL
    + "\n"
    + "".join(
        f"    {b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "faults: [{id: f, type: feature_store_outage, duration: 1}]\nverifiers: [{type: availability}]\n"
)
VALID_TAIL = "faults: [{id: f, type: feature_store_outage, duration: 1}]\nverifiers: [{type: availability}]\n"
HOSTILE = {
    # 9^9 = 387 million strings once expanded; shown where the repetition passes the limit (f: 9^6)
    "billion_laughs": (
        BILLION_LAUGHS,
        10,
        "load.body.f: expands to more than 100,000 values through aliases",
    ),
    "recursive_alias": (
        "name: loop\nload: {users: 2, body: &b {x: [*b]}}\n" + VALID_TAIL,
        2,
        "load.body.x[0]: refers to itself through an alias",
    ),
    "deep_nesting": ("name: " + "[" * 5000 + "]" * 5000 + "\n", 1, "nested more than 64 levels deep"),
    "huge_integer": (
        "name: big\nload: {users: " + "9" * 5000 + ", body: {a: 1}}\n" + VALID_TAIL,
        2,
        "load.users: an integer of 5000 digits",
    ),
    "infinite_duration": (
        "name: forever\nload: {users: 2, body: {a: 1}}\nrecovery: .inf\n" + VALID_TAIL,
        3,
        "recovery: expected a finite number, got inf",
    ),
    "control_character": ("name: x\x07\n", 1, "character #x0007 is not allowed"),
    "nul_in_dataset_path": (
        'name: nul\nload: {users: 2, dataset: "a\\0b"}\n' + VALID_TAIL,
        2,
        "load.dataset: the dataset's path contains a NUL character",
    ),
    "device_as_dataset": (
        "name: dev\nload: {users: 2, dataset: /dev/zero}\n" + VALID_TAIL,
        2,
        "load.dataset: dataset '/dev/zero': not a regular file",
    ),
    "template_nested_too_deep": (
        'name: tpl\nload: {users: 2, body: {a: "{{ '
        + "(" * 3000
        + "1"
        + ")" * 3000
        + ' }}"}}\n'
        + VALID_TAIL,
        2,
        "load.body.a: template nested too deeply",
    ),
    "python_object_tag": (
        "name: !!python/object/apply:os.system [ls]\n",
        1,
        "could not determine a constructor",
    ),
    "tab_indentation": ("name: tabs\nload:\n\tusers: 2\n", 3, "indent with spaces, not tabs"),
    "duplicate_key": (
        "name: a\nname: b\nload: {users: 2, body: {a: 1}}\n" + VALID_TAIL,
        2,
        "duplicate key 'name'",
    ),
}


@pytest.mark.timeout(20)  # stops a hang; the cases take milliseconds
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_input_is_refused_at_its_line(workdir: Path, case: str) -> None:
    text, line, fragment = HOSTILE[case]
    path = write(workdir, text)
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path)
    assert any(p.line == line and fragment in f"{p.where}: {p.message}" for p in caught.value.problems), [
        str(p) for p in caught.value.problems
    ]


def test_bytes_that_are_not_utf8_are_shown_where_they_are(workdir: Path) -> None:
    path = write(workdir, b"name: ok\ndescription: caf\xe9\n")
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path)
    [problem] = caught.value.problems
    assert (problem.line, problem.column) == (2, 17)
    assert "not UTF-8 text" in problem.message and "0xe9" in problem.message


def test_a_bom_is_not_a_problem(workdir: Path) -> None:
    text = (ROOT / "tests" / "scenarios" / "valid" / "minimal.yaml").read_text(encoding="utf-8")
    assert load_scenario(write(workdir, "\ufeff" + text)).scenario.name == "minimal"


@pytest.mark.timeout(60)
def test_mlchaos_validate_refuses_hostile_files_with_locations_and_no_traceback(workdir: Path) -> None:
    bomb = workdir / "bomb.yaml"
    bomb.write_text(BILLION_LAUGHS, encoding="utf-8")
    binary = workdir / "binary.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    result = run_mlchaos("validate", str(bomb), str(binary))
    assert result.returncode == 2, result.stdout + result.stderr
    assert TRACEBACK not in result.stderr
    assert f"{bomb}:10:5: load.body.f:" in result.stderr and "alias bomb" in result.stderr
    assert f"{binary}:1:1: cannot read the file: not UTF-8 text" in result.stderr
    assert "2 problem(s) in 2 file(s)" in result.stderr
