"""Tier names in a scenario are checked against the tier ladder of the target it runs on — its own, or the one
``--target`` or a suite puts in its place — and a name the ladder lacks is shown at the scenario's line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlchaos.experiments.cli import app
from mlchaos.experiments.loader import Problem, ScenarioInvalid, load_scenario, load_target
from mlchaos.experiments.targets import ExternalTarget

WriteFile = Callable[..., Path]  # the `write` fixture (conftest.py)

LADDER = "gold, silver, bronze, default"
TARGET = f"""\
    kind: external
    service_url: http://127.0.0.1:8080
    tiers: [{LADDER}]
    """
# Valid on the embedded reference stack; every tier it names is unknown on the target above.
REFERENCE_NAMES = """\
    name: reference-names
    target: embedded
    load:
      users: 2
      body: {x: 1}
    steady_state:
      min_tier_share: {primary: 0.9}
    faults:
      - id: spike
        type: traffic_spike
        multiplier: 3
        duration: 10s
    verifiers:
      - type: tier_share
        tiers: [primary, fallback]
        min: 0.5
      - type: load_shedding
        admitted_p99_ms: 100
        shed_tiers:
          - rules
    """
REFERENCE_PROBLEMS = [
    (7, 20, "steady_state.min_tier_share.primary", "primary"),
    (15, 13, "verifiers[0].tiers[0]", "primary"),
    (15, 22, "verifiers[0].tiers[1]", "fallback"),
    (20, 9, "verifiers[1].shed_tiers[0]", "rules"),
]


def unknown(tier: str) -> str:
    return f"unknown tier '{tier}'; the target's tiers are: {LADDER}"


def problems_of(path: Path, **options: object) -> list[tuple[int | None, int | None, str, str]]:
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path, **options)  # type: ignore[arg-type]
    found: list[Problem] = caught.value.problems
    return [(p.line, p.column, p.where, p.message) for p in found]


def test_the_scenarios_own_target_decides_which_tiers_exist(write: WriteFile) -> None:
    path = write(
        f"""\
        name: own-ladder
        target:
          kind: external
          service_url: http://127.0.0.1:8080
          tiers: [{LADDER}]
        load:
          users: 2
          body: {{x: 1}}
        steady_state:
          min_tier_share: {{gold: 0.9, primary: 0.5}}
        faults:
          - id: f
            type: traffic_spike
            multiplier: 3
            duration: 10s
        verifiers:
          - type: fallback_engaged
            fault: f
            tiers:
              - silver
              - fallback
          - type: fallback_order
            fault: f
            unavailable: [gold, silver, bronze, default]
          - type: quality
            min_accuracy: 0.5
            tiers: [silver, cache]
          - type: latency
            max_ms: 100
            tiers: [static]
        """
    )
    every_tier = f"names every tier ({LADDER}); at least one must remain to answer"
    assert problems_of(path) == [
        (10, 31, "steady_state.min_tier_share.primary", unknown("primary")),
        (21, 9, "verifiers[0].tiers[1]", unknown("fallback")),
        (24, 5, "verifiers[1].unavailable", every_tier),
        (27, 21, "verifiers[2].tiers[1]", unknown("cache")),
        (30, 13, "verifiers[3].tiers[0]", unknown("static")),
    ]


def test_tiers_on_the_ladder_load_with_the_ladders_defaults(write: WriteFile) -> None:
    path = write(
        f"""\
        name: own-ladder
        target:
          kind: external
          service_url: http://127.0.0.1:8080
          tiers: [{LADDER}]
        load:
          users: 2
          body: {{x: 1}}
        steady_state:
          min_tier_share: {{gold: 0.9}}
        faults:
          - id: f
            type: traffic_spike
            multiplier: 3
            duration: 10s
        verifiers:
          - type: fallback_order
            fault: f
          - type: load_shedding
            admitted_p99_ms: 100
        """
    )
    scenario = load_scenario(path).scenario
    assert scenario.steady_state.min_tier_share == {"gold": 0.9}
    order, shedding = scenario.verifiers
    assert order.expected(LADDER_TUPLE) == "silver"  # type: ignore[attr-defined]
    assert shedding.shed_tiers == ()  # type: ignore[attr-defined]


LADDER_TUPLE = tuple(LADDER.split(", "))


def test_a_target_that_replaces_the_scenarios_is_the_one_checked(write: WriteFile) -> None:
    scenario = write(REFERENCE_NAMES)
    load_scenario(scenario)  # valid on its own target
    target, problems = load_target(write(TARGET, "target.yaml"))
    assert problems == [] and isinstance(target, ExternalTarget)
    expected = [(line, column, where, unknown(tier)) for line, column, where, tier in REFERENCE_PROBLEMS]
    assert problems_of(scenario, target=target) == expected


def test_validate_with_target_shows_the_scenarios_lines(write: WriteFile) -> None:
    scenario, target = write(REFERENCE_NAMES), write(TARGET, "target.yaml")
    result = CliRunner().invoke(app, ["validate", str(scenario), "--target", str(target)])
    assert result.exit_code == 2
    for line, column, where, tier in REFERENCE_PROBLEMS:
        assert f"{scenario}:{line}:{column}: {where}: {unknown(tier)}" in " ".join(result.output.split())


def test_a_suites_target_is_checked_before_anything_runs(write: WriteFile) -> None:
    write(REFERENCE_NAMES)
    write(TARGET, "target.yaml")
    suite = write("name: monthly\ntarget: target.yaml\nscenarios: [scenario.yaml]\n", "suite.yaml")
    result = CliRunner().invoke(app, ["suite", str(suite), "--out", str(suite.parent / "runs")])
    assert result.exit_code == 2 and unknown("primary") in " ".join(result.output.split())
    assert not (suite.parent / "runs").exists()


def test_a_target_file_the_scenario_names_decides_which_tiers_exist(write: WriteFile) -> None:
    write(TARGET, "target.yaml")
    scenario = write(REFERENCE_NAMES.replace("target: embedded", "target: target.yaml"))
    expected = [(line, column, where, unknown(tier)) for line, column, where, tier in REFERENCE_PROBLEMS]
    assert problems_of(scenario) == expected


def test_a_target_file_that_cannot_be_read_is_no_ladder_to_check_against(write: WriteFile) -> None:
    text = REFERENCE_NAMES.replace("target: embedded", "target: missing.yaml")
    scenario = write(text.replace("[primary, fallback]", "[gold, silver]"))
    problems = problems_of(scenario)
    assert [where for _, _, where, _ in problems] == ["target"]  # gold and silver are not called unknown
