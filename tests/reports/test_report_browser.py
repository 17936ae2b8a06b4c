"""A real run's report, in a real browser: ``mlchaos run`` on the embedded stack writes report.html, junit.xml
and summary.json; headless Chromium opens the report from file:// and must make no request beyond the file itself
and log no error. The screenshot is kept in build/artifacts/ for CI (and for people) to look at.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import xmlschema
import yaml
from browser import screenshot, visit

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "build" / "artifacts"
MLCHAOS = Path(sys.executable).parent / "mlchaos"
DATASET = ROOT / "scenarios" / "data" / "transactions.jsonl"

pytestmark = pytest.mark.stack


def _scenario(directory: Path) -> Path:
    """A short feature-store outage: 3 s baseline, 6 s fault, 4 s recovery, 3 s after."""
    scenario = {
        "name": "report-e2e",
        "description": "Feature store down for 6 s; the report of this run is opened in Chromium.",
        "target": {"kind": "embedded", "breaker": {"recovery_timeout_s": 0.5}},
        "load": {"users": 3, "wait": [0.02, 0.05], "dataset": str(DATASET)},
        "steady_state": {"window": "3s", "min_availability": 0.95},
        "faults": [
            {"id": "store-down", "type": "feature_store_outage", "mode": "down", "at": 0, "duration": "6s"}
        ],
        "recovery": "4s",
        "verifiers": [
            {"type": "availability", "min": 0.5},
            {"type": "mttd", "fault": "store-down", "max": "3s"},
            {"type": "mttr", "fault": "store-down", "max": "4s", "window": "1s"},
            {"type": "breaker", "dependency": "feature_store", "fault": "store-down", "close_within": "4s"},
            {"type": "error_budget", "slo": 0.99, "max_burn": 1.0},
            # Fails for sure (the best tier cannot answer while its store is down): its advice is shown.
            {"type": "tier_share", "tiers": ["primary"], "min": 1.0, "phase": "fault"},
        ],
    }
    path = directory / "report-e2e.yaml"
    path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    return path


@pytest.mark.timeout(300)
def test_a_real_runs_report_loads_offline_without_errors(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    result = subprocess.run(
        [str(MLCHAOS), "run", "--out", str(out), str(_scenario(tmp_path))],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 1, result.stdout + result.stderr  # tier_share fails, by design
    assert "where to look" in result.stdout and "primary served only" in result.stdout  # the console says it
    (run_dir,) = out.iterdir()
    for name in ("report.html", "junit.xml", "summary.json"):
        assert (run_dir / name).is_file(), f"{name} missing:\n{result.stdout}{result.stderr}"
    assert f"report: {run_dir / 'report.html'}" in result.stdout.replace("\n", "")
    xmlschema.XMLSchema(Path(__file__).with_name("junit.xsd")).validate(run_dir / "junit.xml")
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["exit_code"] == result.returncode and summary["verifiers"]["total"] == 8
    (shares,) = [v for v in summary["verdicts"] if v["verifier"] == "tier_share"]
    assert shares["advice"]["way"] == "below_min" and "primary" in shares["advice"]["text"]
    assert shares["budget"]["slo"] == 0.95 and shares["judged"]["start"].endswith("Z")
    assert all(v["advice"] for v in summary["verdicts"] if not v["passed"])
    junit = (run_dir / "junit.xml").read_text(encoding="utf-8")
    assert "where to look: primary served only" in junit and "way: below_min" in junit

    rerendered = tmp_path / "again.html"
    again = subprocess.run(
        [str(MLCHAOS), "report", str(run_dir), "--out", str(rerendered)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stdout + again.stderr

    page = run_dir / "report.html"
    seen = visit(page, tmp_path / "profile")
    assert seen.requests == [page.resolve().as_uri()], seen.requests  # the file itself, nothing else
    assert all(url.startswith(("file://", "data:")) for url in seen.requests)
    assert seen.errors == [], seen.errors
    advice = seen.facts.pop("advice")
    assert seen.facts == {
        "banner": "FAILED",
        "charts": 1,
        "scripts": 0,
        "title": "FAILED · report-e2e · mlchaos report",
        "failed_rows": len(advice),  # every failed verdict, and only those, shows where to look
    }
    (below,) = [a for a in advice if a["way"] == "below_min"]
    assert below["shown"] and below["text"].startswith("Where to look:")
    assert "primary served only" in below["text"]

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = screenshot(page, ARTIFACTS / "report-real-run.png", tmp_path / "profile-shot")
    shutil.copyfile(page, ARTIFACTS / "report-real-run.html")
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one
