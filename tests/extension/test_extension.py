"""A fault and a verifier added by another package, through the documented extension point only.

``acme_chaos`` (beside this file) is such a package: a fault acting on the target (``feature_flag``) and a
verifier (``unanswered_share``), registered through the ``mlchaos.faults`` and ``mlchaos.verifiers`` entry point
groups. Each test installs it as pip would — a ``.dist-info`` with its ``entry_points.txt`` on the path of a
fresh interpreter, which reads entry points when mlchaos is imported, as every ``mlchaos`` command does — and
nothing in mlchaos names it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import mlchaos.injectors
from mlchaos.experiments.loader import ScenarioInvalid, load_scenario
from mlchaos.experiments.registry import FAULTS_GROUP, PluginError, build_registry
from mlchaos.injectors import FaultSpec

HERE = Path(__file__).resolve().parent
DATASET = HERE.parents[1] / "scenarios" / "data" / "transactions.jsonl"
ENTRY_POINTS = """\
[mlchaos.faults]
feature_flag = acme_chaos.feature_flag:INJECTOR

[mlchaos.verifiers]
unanswered_share = acme_chaos.unanswered_share:VERIFIER
"""
SCENARIO = f"""\
name: fraud-rules-off
load:
  dataset: {DATASET}
faults:
  - type: feature_flag
    id: rules-off
    at: 2
    duration: 10
    file: flags.json
    flag: fraud_rules
verifiers:
  - type: unanswered_share
    max: 0.3
    weight: 2
  - type: unanswered_share
    max: 0.1
    phase: after
  - type: availability
    min: 0.99
    phase: fault
"""


def install(site: Path, entry_points: str = ENTRY_POINTS) -> dict[str, str]:
    """The environment of an interpreter in which ``acme-chaos`` is installed with these entry points."""
    dist_info = site / "acme_chaos-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-chaos\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(entry_points)
    return {**os.environ, "PYTHONPATH": os.pathsep.join((str(site), str(HERE)))}


def drive(tmp_path: Path, scenario: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "scenario.yaml"
    path.write_text(scenario)
    (tmp_path / "flags.json").write_text(json.dumps({"fraud_rules": True, "new_ui": False}))
    (tmp_path / "run").mkdir()
    command = [sys.executable, str(HERE / "drive.py"), str(path), str(tmp_path / "run")]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


def driven(tmp_path: Path, scenario: str = SCENARIO) -> dict[str, Any]:
    done = drive(tmp_path, scenario, install(tmp_path / "site"))
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_a_scenario_using_the_packages_fault_and_verifier_loads_plans_rolls_back_and_is_judged(
    tmp_path: Path,
) -> None:
    found = driven(tmp_path)
    assert found["kinds"] == {
        "FeatureFlag": ["acme_chaos.feature_flag", "acme-chaos"],
        "UnansweredShare": ["acme_chaos.unanswered_share", "acme-chaos"],
    }
    # planned against the target, with the file made absolute by the fault's own hook
    flags = tmp_path / "flags.json"
    assert found["touches"] == [f"flag 'fraud_rules' in {flags} (read by http://127.0.0.1:<gateway-port>)"]
    assert found["description"] == "set feature flag 'fraud_rules' to false"
    assert found["inject_at"] == [12.0, 22.0]  # fault phase starts after the default 10 s baseline window
    # applied, then undone by mlchaos' rollback from what the journal holds
    assert found["flags_during"] == {"fraud_rules": False, "new_ui": False}
    assert found["flags_after"] == {"fraud_rules": True, "new_ui": False}
    assert found["reverted"] == ["rules-off"]
    # judged next to a verifier of mlchaos' own, weights from the scenario
    verdicts = [{k: v[k] for k in ("verifier", "passed", "measured", "weight")} for v in found["verdicts"]]
    assert verdicts == [
        {"verifier": "unanswered_share", "passed": True, "measured": 25.0, "weight": 2.0},
        {"verifier": "unanswered_share", "passed": False, "measured": None, "weight": 1.0},
        {"verifier": "availability", "passed": False, "measured": 75.0, "weight": 1.0},
    ]
    assert found["verdicts"][1]["explanation"] == "no requests in after"


def test_mistakes_in_the_packages_kinds_are_shown_at_their_lines(tmp_path: Path) -> None:
    scenario = SCENARIO.replace("    flag: fraud_rules", "    flagg: fraud_rules").replace(
        "max: 0.3", "max: 3"
    )
    scenario = scenario.replace("type: availability", "type: unanswered_shares")
    found = driven(tmp_path, scenario)
    path = tmp_path / "scenario.yaml"
    assert found["problems"] == [
        f"{path}:5:5: faults[0].flag: missing required field 'flag'",
        f"{path}:10:5: faults[0].flagg: unknown field 'flagg'; did you mean 'flag'?",
        f"{path}:13:5: verifiers[0].max: expected less than or equal to 1, got 3",
        f"{path}:18:5: verifiers[2].type: unknown verifier type 'unanswered_shares'; did you mean "
        "'unanswered_share'?",
    ]


def test_without_the_package_its_kinds_are_unknown(tmp_path: Path) -> None:
    # This process has no acme-chaos installed: the kinds come from its entry points, and nowhere else.
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO)
    with pytest.raises(ScenarioInvalid) as raised:
        load_scenario(path)
    assert [(problem.line, problem.message) for problem in raised.value.problems] == [
        (5, "unknown fault type 'feature_flag'; did you mean 'feature_store_outage'?"),
        (12, "unknown verifier type 'unanswered_share'; did you mean 'tier_share'?"),
        (15, "unknown verifier type 'unanswered_share'; did you mean 'tier_share'?"),
    ]


def test_a_package_whose_entry_point_does_not_load_stops_mlchaos_naming_it(tmp_path: Path) -> None:
    broken = ENTRY_POINTS.replace("acme_chaos.feature_flag:INJECTOR", "acme_chaos.feature_flags:INJECTOR")
    done = drive(tmp_path, SCENARIO, install(tmp_path / "site", broken))
    assert done.returncode != 0
    assert (
        "PluginError: entry point 'feature_flag = acme_chaos.feature_flags:INJECTOR' of acme-chaos (group "
        "mlchaos.faults) could not be loaded: ModuleNotFoundError: No module named 'acme_chaos.feature_flags'"
    ) in done.stderr


CLASH = """\
from typing import Literal

from acme_chaos.feature_flag import FeatureFlagInjector
from mlchaos.injectors.base import FaultSpec


class Latency(FaultSpec):
    type: Literal["latency"]


class LatencyInjector(FeatureFlagInjector):
    spec = Latency


INJECTOR = LatencyInjector()
"""


@pytest.mark.parametrize(
    ("entry_point", "problem"),
    [
        (
            "flag = acme_chaos.feature_flag:INJECTOR",
            "the entry point's name must be the kind's name, 'feature_flag'",
        ),
        (
            "latency = acme_clash:INJECTOR",
            "the kind 'latency' is already registered by mlchaos (mlchaos.injectors.latency)",
        ),
        (
            "unanswered_share = acme_chaos.unanswered_share:VERIFIER",
            "expected an object whose `spec` is a subclass of FaultSpec",
        ),
    ],
    ids=["name", "taken", "not-a-fault"],
)
def test_a_kind_that_cannot_be_registered_is_refused_naming_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry_point: str, problem: str
) -> None:
    install(tmp_path, f"[{FAULTS_GROUP}]\n{entry_point}\n")
    (tmp_path / "acme_clash.py").write_text(CLASH)
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError) as raised:  # the registry as it is built when mlchaos starts
        build_registry(mlchaos.injectors, "INJECTOR", FAULTS_GROUP, spec_base=FaultSpec, requires=("plan",))
    assert str(raised.value) == f"entry point '{entry_point}' of acme-chaos (group mlchaos.faults): {problem}"
