"""Faults and a verifier added by another package, through the documented extension point only.

``acme_chaos`` (beside this file) is such a package: a fault acting on the target (``feature_flag``), an input
fault acting on request contents (``shouting_inputs``) and a verifier (``unanswered_share``), registered through
the ``mlchaos.faults`` and ``mlchaos.verifiers`` entry point groups. Each test installs it as pip would — a
``.dist-info`` with its ``entry_points.txt`` on the path of a fresh interpreter, which reads entry points when
mlchaos is imported, as every ``mlchaos`` command does (and the load child, for the kinds of input it sends) —
and nothing in mlchaos names it.
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
from mlchaos.experiments import crash, launcher
from mlchaos.experiments.loader import ScenarioInvalid, load_scenario
from mlchaos.experiments.registry import FAULTS_GROUP, PluginError, build_registry
from mlchaos.injectors import FaultSpec

HERE = Path(__file__).resolve().parent
DATASET = HERE.parents[1] / "scenarios" / "data" / "transactions.jsonl"
ENTRY_POINTS = """\
[mlchaos.faults]
feature_flag = acme_chaos.feature_flag:INJECTOR
shouting_inputs = acme_chaos.shouting:INJECTOR

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
    # The package's verifier declares no ways of failing: its failure still says where to look, marked generic.
    advice = [v["advice"] for v in found["verdicts"]]
    assert advice[0] is None and advice[1]["way"] == "unmeasured" and advice[1]["generic"] is True
    assert advice[1]["text"].startswith("generic advice") and advice[2]["generic"] is False


INPUT_SCENARIO = f"""\
name: shouting-clients
load:
  dataset: {DATASET}
  users: 2
  wait: [0.02, 0.05]
steady_state:
  window: 1
recovery: 0.5
faults:
  - type: shouting_inputs
    id: shout
    duration: 2
    share: 0.5
verifiers:
  - type: availability
    min: 0.99
"""


@pytest.mark.load
def test_the_packages_input_fault_is_sent_by_the_load_and_tagged_in_requests_parquet(tmp_path: Path) -> None:
    # The load child is a process of its own: it finds the package's kind of input through the entry points,
    # as the planning process did, and makes each drawn request with the package's code.
    path = tmp_path / "scenario.yaml"
    path.write_text(INPUT_SCENARIO)
    command = [sys.executable, str(HERE / "drive_load.py"), str(path), str(tmp_path)]
    env = install(tmp_path / "site")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["exit"] == 0
    assert found["description"] == "the first text feature upper-cased in 50% of the requests for 2s"
    assert found["spec_send"] == {"kind": "shouting", "field": None}, (
        "the wire carries the kind and its fields"
    )
    assert found["tags"] == ["shouting:upper"]
    assert found["tagged"] > 0 and found["clean"] > 0, "a share of the requests in the window, not all"
    assert found["shouted_at_server"] == found["tagged"], (
        "each tagged row is a request the service got shouted"
    )


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


@pytest.mark.e2e
def test_a_package_that_raises_on_import_stops_the_mlchaos_command_with_exit_2_naming_it(
    tmp_path: Path,
) -> None:
    broken = ENTRY_POINTS.replace("acme_chaos.feature_flag:INJECTOR", "acme_broken:INJECTOR")
    env = install(tmp_path / "site", broken)
    (tmp_path / "site" / "acme_broken.py").write_text('raise RuntimeError("the flag service is down")\n')
    command = [str(Path(sys.executable).parent / "mlchaos"), "--help"]  # the console script pip installs
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "mlchaos cannot start: entry point 'feature_flag = acme_broken:INJECTOR' of acme-chaos (group "
        "mlchaos.faults) could not be loaded: RuntimeError: the flag service is down\n"
    )


def test_a_bug_in_mlchaos_when_it_starts_is_reported_as_a_bug_with_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # No bug of mlchaos's own can be planted without editing it: the CLI's import is made to fail as one would
    # (an exception that is no MlchaosError), by the import system itself.
    monkeypatch.setitem(sys.modules, "mlchaos.experiments.cli", None)
    monkeypatch.setattr(crash, "_fallback_dir", tmp_path)
    with pytest.raises(SystemExit) as exited:
        launcher.main()
    assert exited.value.code == 3
    saved = tmp_path / "crash.txt"
    message = capsys.readouterr().err
    assert message.startswith("mlchaos cannot start: bug in mlchaos: ModuleNotFoundError: ")
    assert f"traceback in {saved}; please report it" in message
    assert "Traceback (most recent call last)" in saved.read_text()


LOUD = """\
from typing import Literal

from acme_chaos.shouting import ShoutingInjector, ShoutingInputs, ShoutingSend


class Loud(ShoutingInputs):
    type: Literal["loud_inputs"]


class LoudSend(ShoutingSend):
    kind: Literal["corrupt"] = "corrupt"


class LoudInjector(ShoutingInjector):
    spec = Loud
    sends = (LoudSend,)


INJECTOR = LoudInjector()
"""


def test_a_kind_of_input_another_fault_sends_already_is_refused_naming_both(tmp_path: Path) -> None:
    env = install(tmp_path / "site", f"[{FAULTS_GROUP}]\nloud_inputs = acme_loud:INJECTOR\n")
    (tmp_path / "site" / "acme_loud.py").write_text(LOUD)
    command = [sys.executable, "-c", "import mlchaos.injectors"]  # the registry as it is built on start
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert (
        "PluginError: fault 'loud_inputs' (acme-chaos, acme_loud): the input kind 'corrupt' is already sent by "
        "fault 'corrupted_inputs' (mlchaos, mlchaos.injectors.corrupted_inputs)"
    ) in done.stderr
