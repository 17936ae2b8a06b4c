"""The shipped catalogue passes on the healthy reference stack, and each deliberate defect fails the scenario
that exists to catch it — with the right verifier named (on a copy of that scenario with its phases halved)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from support.cli_runs import ROOT, run_mlchaos

pytestmark = pytest.mark.stack

CATALOGUE = ROOT / "scenarios"


def verdicts(out: Path) -> dict[str, list[dict[str, object]]]:
    """Scenario name -> its verdicts, for every run under ``out``."""
    found = {}
    for run_dir in out.iterdir():
        document = json.loads((run_dir / "verdicts.json").read_text(encoding="utf-8"))
        found[document["scenario"]] = document["verdicts"]
    return found


@pytest.mark.timeout(1200)  # eight scenarios back to back; the bound only stops a hang
def test_the_whole_catalogue_holds_on_the_healthy_stack(tmp_path: Path) -> None:
    result = run_mlchaos(
        "run", "--out", str(tmp_path), *map(str, sorted(CATALOGUE.glob("*.yaml"))), timeout_s=1100
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "suite" in result.stdout
    assert set(verdicts(tmp_path)) == {p.stem for p in CATALOGUE.glob("*.yaml")}


def _seconds(value: object) -> float:
    return float(str(value).removesuffix("s"))


def halved(path: Path, directory: Path) -> Path:
    """A test copy of a catalogue scenario with every phase and fault half as long (windows and recovery at least
    4 s), files it names made absolute. CI time is a budget: a defect that fails a verifier in the full scenario
    fails it in half the time too — the thresholds are the same, only the waiting is shorter."""
    scenario = yaml.safe_load(path.read_text(encoding="utf-8"))
    window = scenario["steady_state"]
    window["window"] = f"{max(4.0, _seconds(window.get('window', 10)) / 2):g}s"
    scenario["recovery"] = f"{max(4.0, _seconds(scenario.get('recovery', 10)) / 2):g}s"
    for fault in scenario["faults"]:
        fault["at"] = f"{_seconds(fault.get('at', 0)) / 2:g}s"
        fault["duration"] = f"{_seconds(fault['duration']) / 2:g}s"
        if "samples" in fault:
            fault["samples"] = str(path.parent / fault["samples"])
    scenario["load"]["dataset"] = str(path.parent / scenario["load"]["dataset"])
    copy = directory / path.name
    copy.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    return copy


BROKEN = [
    ("disable_fallback_model", "feature-store-outage", {"fallback_engaged"}),
    ("breaker_never_closes", "feature-store-outage", {"breaker", "mttr"}),
    ("no_feature_store_timeout", "feature-store-latency", {"latency", "fallback_engaged"}),
    ("static_labelled_primary", "cascading-outage", {"tier_share", "fallback_order"}),
    ("no_load_shedding", "traffic-spike", {"load_shedding"}),
    ("no_input_validation", "corrupted-inputs", {"bad_input_handling"}),
    ("no_ood_routing", "distribution-shift", {"ood_routing"}),
    ("no_ood_routing", "adversarial-samples", {"adversarial_robustness"}),
    ("no_drift_monitor", "distribution-shift", {"drift_detected_within"}),
]


@dataclass(frozen=True)
class BrokenRun:
    """One ``mlchaos run`` against a broken stack: its exit code, its output, each scenario's verdicts."""

    returncode: int
    output: str
    verdicts: dict[str, list[dict[str, object]]]


def broken_target(flag: str, scenario: str) -> dict[str, object]:
    """The catalogue scenario's own target, with the broken variant's flag."""
    target = yaml.safe_load((CATALOGUE / f"{scenario}.yaml").read_text(encoding="utf-8"))["target"]
    return {**({"kind": "embedded"} if target == "embedded" else target), "flags": [flag]}


@pytest.fixture(scope="module")
def broken_runs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], BrokenRun]:
    """The run of a broken variant's halved scenario. Variants with the same broken target (flag and stack
    options) share one ``mlchaos run`` and so one stack start-up (CI time is a budget), as a user's
    ``mlchaos run a.yaml b.yaml`` does: each scenario's preflight waits for the stack to be healthy again."""
    runs: dict[str, BrokenRun] = {}

    def run(flag: str, scenario: str) -> BrokenRun:
        target = broken_target(flag, scenario)
        key = json.dumps(target, sort_keys=True)
        if key not in runs:
            directory = tmp_path_factory.mktemp(flag)
            names = sorted(s for f, s, _ in BROKEN if broken_target(f, s) == target)
            paths = [str(halved(CATALOGUE / f"{name}.yaml", directory)) for name in names]
            broken = directory / "broken-target.yaml"
            broken.write_text(yaml.safe_dump(target), encoding="utf-8")
            out = directory / "runs"
            result = run_mlchaos("run", "--out", str(out), "--target", str(broken), *paths, timeout_s=300)
            runs[key] = BrokenRun(result.returncode, result.stdout + result.stderr, verdicts(out))
        return runs[key]

    return run


@pytest.mark.parametrize(("flag", "scenario", "must_fail"), BROKEN, ids=[f"{b[0]}-{b[1]}" for b in BROKEN])
def test_a_broken_variant_fails_with_the_right_verifier_named(
    broken_runs: Callable[[str, str], BrokenRun], flag: str, scenario: str, must_fail: set[str]
) -> None:
    run = broken_runs(flag, scenario)
    output = run.output
    assert run.returncode == 1, output  # the worst of the runs: each of them is judged below
    found = run.verdicts[scenario]
    failed = {str(v["verifier"]) for v in found if not v["passed"]}
    assert must_fail <= failed, f"expected {must_fail} among the failed verifiers, got {failed}\n{output}"
    # The defect shows under fault, not before it: the baseline held, so the experiment was valid.
    assert "steady_state" not in failed or all(
        v["passed"] for v in found if v["name"] == "steady_state (baseline)"
    ), output
    # The run's closing line names each failed verifier with its measured value and target.
    [closing] = [line for line in output.splitlines() if line.startswith(f"{scenario}: failed: ")]
    for verdict in found:
        if verdict["verifier"] in must_fail and not verdict["passed"]:
            assert f"{verdict['name']} = " in closing and "(target " in closing, closing
