"""Helpers for end-to-end runs of the ``mlchaos`` command against a real embedded stack.

The stack fixture starts it *outside* the run (an external target), so after a run was interrupted or killed the
test can still look at toxiproxy and supervisord and see exactly what the run left applied.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import requests
import xmlschema
import yaml
from support.cli_runs import DATASET

from mlchaos.injectors.backends.supervisor import SupervisorClient
from mlchaos.staging.endpoints import StackEndpoints


def write_scenario(
    directory: Path,
    fault: dict[str, object],
    *,
    target: object = "embedded",
    name: str = "e2e",
    fault_s: float = 6.0,
    extra: dict[str, Any] | None = None,
) -> Path:
    """A short scenario (3 s baseline, ``fault_s`` fault, 3 s recovery, 3 s after) around one fault.

    ``extra`` adds to it: mappings are merged into the scenario's (``load``, ``steady_state``), lists are
    appended to (``verifiers``), anything else is set.
    """
    scenario: dict[str, Any] = {
        "name": name,
        "target": target,
        "load": {"users": 3, "wait": [0.02, 0.05], "dataset": str(DATASET)},
        "steady_state": {"window": "3s", "min_availability": 0.95},
        "faults": [{"id": "f", "at": 0, "duration": fault_s, **fault}],
        "recovery": "3s",
        "verifiers": [{"type": "availability", "min": 0.5}],
    }
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(scenario.get(key), dict):
            scenario[key] = {**scenario[key], **value}
        elif isinstance(value, list) and isinstance(scenario.get(key), list):
            scenario[key] = [*scenario[key], *value]
        else:
            scenario[key] = value
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    return path


def proxy_state(stack: StackEndpoints, proxy: str) -> dict[str, object]:
    response = requests.get(f"{stack.toxiproxy_url}/proxies/{proxy}", timeout=5)
    response.raise_for_status()
    state: dict[str, object] = response.json()
    return state


def program_state(stack: StackEndpoints, program: str) -> str:
    return SupervisorClient(stack.supervisor_url).program(program).state


JUNIT_XSD = Path(__file__).resolve().parents[1] / "reports" / "junit.xsd"


def assert_judged_partially(run_dir: Path, by: str) -> None:
    """A run stopped early (``by`` a signal or a guardrail) after its baseline began: verdicts on what it
    recorded, and every output says they are partial."""
    verdicts = json.loads((run_dir / "verdicts.json").read_text(encoding="utf-8"))
    assert verdicts["partial"] is True and verdicts["passed"] is False and verdicts["verdicts"]
    assert verdicts["stopped"]["by"].startswith(by)
    page = (run_dir / "report.html").read_text(encoding="utf-8").replace("&gt;", ">")
    assert '<section class="partial-banner"' in page and f"partial: stopped by {by}" in page
    junit = run_dir / "junit.xml"
    xmlschema.XMLSchema(JUNIT_XSD).validate(junit)
    properties = {p.get("name"): p.get("value") for p in ET.parse(junit).getroot().iter("property")}
    assert properties["partial"] == "true" and properties["exit_code"] == "3"
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["partial"] is True and summary["status"] == "aborted" and summary["exit_code"] == 3
    assert len(summary["verdicts"]) == len(verdicts["verdicts"])
