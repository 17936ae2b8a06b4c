"""``load.locustfile`` and ``load.user_classes`` when a scenario is validated: each problem at its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlchaos.experiments.load.spec import MAX_LOCUSTFILE_BYTES
from mlchaos.experiments.loader import Problem, ScenarioInvalid, load_scenario
from mlchaos.experiments.run_reader import recorded_scenario
from mlchaos.experiments.scenario import scenario_record

TEAM_USERS = """
from locust import FastHttpUser, task
from team_helpers import BaseUser as Imported  # a class a locustfile imports may be named too


class Scorer(FastHttpUser):
    @task
    def score(self):
        self.client.post("/v2/score", json={})
"""

FAULT = """faults:
  - id: fs-down
    type: feature_store_outage
    duration: 10s
"""
INPUT_FAULT = """  - id: garbage-in
    type: corrupted_inputs
    duration: 10s
"""
VERIFIERS = """verifiers:
  - type: availability
"""


def scenario(tmp_path: Path, load: str, faults: str = FAULT) -> Path:
    (tmp_path / "team_users.py").write_text(TEAM_USERS, encoding="utf-8")
    path = tmp_path / "scenario.yaml"
    path.write_text(f"name: team-load\nload:\n{load}{faults}{VERIFIERS}", encoding="utf-8")
    return path


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(ScenarioInvalid) as invalid:
        load_scenario(path)
    return invalid.value.problems


def line_of(path: Path, fragment: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if fragment in line)


def test_a_scenario_with_a_locustfile_loads_with_its_path_made_absolute(tmp_path: Path) -> None:
    path = scenario(tmp_path, "  users: 2\n  locustfile: team_users.py\n  user_classes: [Scorer, Imported]\n")
    load = load_scenario(path).scenario.load
    assert load.locustfile == tmp_path / "team_users.py"
    assert load.user_classes == ("Scorer", "Imported")
    assert load.dataset is None and load.body is None


@pytest.mark.parametrize(
    ("load", "line", "message"),
    [
        pytest.param(
            "  locustfile: missing.py\n",
            "locustfile:",
            "locustfile 'missing.py': not found (looked for",
            id="missing",
        ),
        pytest.param("  locustfile: .\n", "locustfile:", "not a regular file", id="a-folder"),
        pytest.param(
            "  locustfile: scenario.yaml\n",
            "locustfile:",
            "expected a Python file ending .py",
            id="not-python",
        ),
        pytest.param(
            "  locustfile: team_users.py\n  user_classes: [Scorer, Nobody]\n",
            "user_classes:",
            "no class 'Nobody' in locustfile 'team_users.py' (its classes: Scorer)",
            id="unknown-user-class",
        ),
        pytest.param(
            "  dataset: requests.jsonl\n  user_classes: [Scorer]\n",
            "user_classes:",
            "user_classes name classes of a locustfile",
            id="user-classes-without-locustfile",
        ),
        pytest.param(
            "  locustfile: team_users.py\n  path: /v2/score\n",
            "path:",
            "a locustfile's users choose their own paths",
            id="path-with-locustfile",
        ),
        pytest.param(
            "  locustfile: team_users.py\n  body: {x: 1}\n",
            "load:",
            "exactly one of 'dataset' (a JSONL file), 'body' (a request template) or 'locustfile'",
            id="two-sources",
        ),
    ],
)
def test_locustfile_problems_point_at_their_line(tmp_path: Path, load: str, line: str, message: str) -> None:
    path = scenario(tmp_path, load)
    (tmp_path / "requests.jsonl").write_text('{"body": {"x": 1}}\n', encoding="utf-8")
    found = problems_of(path)
    assert [(p.file, p.line) for p in found] == [(path, line_of(path, line))], found
    assert message in found[0].message


def test_an_input_fault_next_to_a_locustfile_is_a_problem_at_the_fault(tmp_path: Path) -> None:
    path = scenario(tmp_path, "  locustfile: team_users.py\n", faults=FAULT + INPUT_FAULT)
    found = problems_of(path)
    assert [(p.line, p.where) for p in found] == [(line_of(path, "- id: garbage-in"), "faults[1]")]
    assert found[0].message == (
        "fault 'garbage-in' (corrupted_inputs): input faults replace a share of mlchaos' own requests; with "
        "load.locustfile they cannot be injected — remove the fault or the locustfile"
    )


def test_a_syntax_error_is_shown_at_its_line_in_the_locustfile(tmp_path: Path) -> None:
    path = scenario(tmp_path, "  locustfile: team_users.py\n")
    locustfile = tmp_path / "team_users.py"
    locustfile.write_text("from locust import task\n\nclass Broken(:\n    pass\n", encoding="utf-8")
    found = problems_of(path)
    assert [(p.file, p.line, p.where) for p in found] == [(locustfile, 3, "load.locustfile")]
    assert found[0].message.startswith("not valid Python")


def test_a_locustfile_too_large_to_travel_in_the_spec_is_refused(tmp_path: Path) -> None:
    path = scenario(tmp_path, "  locustfile: team_users.py\n")
    (tmp_path / "team_users.py").write_text("#" * (MAX_LOCUSTFILE_BYTES + 1), encoding="utf-8")
    found = problems_of(path)
    assert [p.line for p in found] == [line_of(path, "locustfile:")]
    assert f"at most {MAX_LOCUSTFILE_BYTES}" in found[0].message


def test_a_recorded_scenario_is_reported_where_its_locustfile_is_gone(tmp_path: Path) -> None:
    """A run directory copied off its machine (a CI artifact): the locustfile only drove the load."""
    loaded = load_scenario(scenario(tmp_path, "  locustfile: team_users.py\n  user_classes: [Scorer]\n"))
    recorded = tmp_path / "run" / "scenario.yaml"
    recorded.parent.mkdir()
    recorded.write_text(scenario_record(loaded.scenario), encoding="utf-8")
    (tmp_path / "team_users.py").unlink()

    with pytest.raises(ScenarioInvalid):
        load_scenario(recorded)  # to run it, the locustfile is needed
    assert recorded_scenario(recorded).load == loaded.scenario.load  # to report it, not
