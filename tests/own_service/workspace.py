"""A team's mlchaos folder for riskd, laid out as that team would keep it: a target file, scenarios naming it, a
suite, and the dataset — made in a temporary directory around a riskd stack the test started (its ports are only
known then)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from string import Template
from typing import Any

import yaml
from riskd.stack import RiskdEndpoints

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
TEMPLATE = HERE / "target.template.yaml"
DATASET = HERE.parent / "riskd" / "data" / "transactions.jsonl"


def filled_target(endpoints: RiskdEndpoints) -> str:
    """The team's target file (the template) for the riskd stack at ``endpoints``."""
    # The editor's modeline (`$schema=...`) is not a placeholder: escaped, it is copied as it is.
    template = TEMPLATE.read_text(encoding="utf-8").replace("$schema=", "$$schema=")
    return Template(template).substitute(
        service_url=endpoints.service_url,
        toxiproxy_url=endpoints.toxiproxy_url,
        supervisor_url=endpoints.supervisor_url,
    )


def workspace(directory: Path, endpoints: RiskdEndpoints, *, warm: bool = False, **target_text: str) -> Path:
    """``directory`` holding riskd's scenarios, suite, dataset and a target file for ``endpoints``.

    ``warm``: riskd has no cold start left to wait out (a suite ran on it already, or it started without one):
    the scenarios without their warm-up (:func:`without_warmup`). ``target_text`` replaces whole lines of the
    target template (``old line -> new line`` by key), e.g. to swap the signals for PromQL ones."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in SCENARIOS.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if warm and path.name != "suite.yaml":
            text = without_warmup(text)
        (directory / path.name).write_text(text, encoding="utf-8")
    (directory / "data").mkdir(exist_ok=True)
    shutil.copy(DATASET, directory / "data" / DATASET.name)
    text = filled_target(endpoints)
    for old, new in target_text.items():
        assert old in text, f"{old!r} is not in the target template"
        text = text.replace(old, new)
    (directory / "target.yaml").write_text(text, encoding="utf-8")
    return directory


def without_warmup(text: str) -> str:
    """A team scenario (YAML text) with no warm-up, for a riskd with no cold start left: the warm-up is judged
    by nothing, so the run is the same experiment, only sooner (CI time is a budget)."""
    scenario = yaml.safe_load(text)
    scenario["load"]["warmup"] = "0s"
    return yaml.safe_dump(scenario, sort_keys=False)


def scenario_verdicts(run_dir: Path) -> list[dict[str, Any]]:
    document = json.loads((run_dir / "verdicts.json").read_text(encoding="utf-8"))
    verdicts: list[dict[str, Any]] = document["verdicts"]
    return verdicts


def suite_verdicts(suite_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Scenario name -> its verdicts, for every scenario run of a suite directory."""
    found = {}
    for run_dir in sorted(p for p in suite_dir.iterdir() if (p / "verdicts.json").exists()):
        document = json.loads((run_dir / "verdicts.json").read_text(encoding="utf-8"))
        found[document["scenario"]] = document["verdicts"]
    return found


def failed(verdicts: list[dict[str, Any]]) -> dict[str, str]:
    """Verifier name -> explanation, of the verdicts that failed."""
    return {str(v["name"]): str(v["explanation"]) for v in verdicts if not v["passed"]}
