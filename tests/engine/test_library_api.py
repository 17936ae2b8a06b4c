"""The library API: ``run_scenario`` and ``run_suite`` from Python, without the CLI — typed outcomes, the same run
directory as ``mlchaos run``, nothing printed unless asked, invalid files refused before anything runs.

The target is a tiny service on loopback (it answers every request), so each run is a real one of a few seconds:
preflight, load, an input fault, verdicts, report.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.loopback_http import serving

from mlchaos.experiments import (
    ExitCode,
    RunOutcome,
    ScenarioInvalid,
    StopRequest,
    SuiteOutcome,
    run_scenario,
    run_suite,
)
from mlchaos.experiments.verifiers.base import Verdict

pytestmark = pytest.mark.timeout(180)  # only against a hang: nothing here is timed

RUN_FILES = {"scenario.yaml", "journal.jsonl", "requests.parquet", "probes.parquet", "verdicts.json"}
REPORT_FILES = {"report.html", "junit.xml", "summary.json"}


class _Service(BaseHTTPRequestHandler):
    """Healthy, and answers every prediction from its primary tier."""

    def do_GET(self) -> None:
        self._answer(b'{"status": "ok"}')

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(b'{"tier": "primary", "prediction": "legit", "confidence": 0.9}')

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@pytest.fixture
def service_url() -> Iterator[str]:
    with serving(_Service) as url:
        yield url


def _scenario(directory: Path, url: str, name: str, *, impossible: bool = False) -> Path:
    (directory / "requests.jsonl").write_text('{"body": {"amount": 1}}\n', encoding="utf-8")
    availability: dict[str, Any] = {"type": "availability", "min": 0.1}
    verifiers = [availability]
    if impossible:  # a p50 of a microsecond: not over HTTP, not even on loopback
        verifiers.append({"type": "latency", "phase": "run", "percentile": 50, "max_ms": 0.001})
    document = {
        "name": name,
        "target": {
            "kind": "external",
            "service_url": url,
            "predict_path": "/predict",
            "health": {"live": "/live", "ready": "/ready"},
            "response": {"tier": "tier", "prediction": "prediction", "confidence": "confidence"},
        },
        "load": {"users": 1, "dataset": "requests.jsonl", "wait": [0.02, 0.05]},
        "steady_state": {"window": "1s", "min_availability": 0.5},
        "faults": [{"id": "c", "type": "corrupted_inputs", "mutators": ["nan"], "duration": "1s"}],
        "recovery": "0s",
        "verifiers": verifiers,
    }
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


@pytest.mark.load  # a real run: the load generator sends traffic for a few seconds
def test_run_scenario_returns_a_typed_outcome_and_writes_the_run_directory(
    tmp_path: Path, service_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs"
    outcome = run_scenario(_scenario(tmp_path, service_url, "library"), out=out)

    assert isinstance(outcome, RunOutcome)
    assert outcome.exit_code == ExitCode.OK, outcome.message
    assert outcome.scenario == "library" and outcome.message == "all verifiers held"
    assert "availability (run)" in [v.name for v in outcome.verdicts]  # beside the steady state's
    assert all(isinstance(v, Verdict) and v.passed for v in outcome.verdicts)
    assert outcome.rollback is not None and outcome.rollback.ok and outcome.partial is None
    [run_dir] = out.iterdir()
    assert outcome.run_dir == run_dir
    assert {f.name for f in run_dir.iterdir()} >= RUN_FILES | REPORT_FILES
    assert outcome.report == run_dir / "report.html"
    verdicts = json.loads((run_dir / "verdicts.json").read_text(encoding="utf-8"))
    assert "availability" in json.dumps(verdicts)
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err == ""  # a library prints nothing unless given an Output


@pytest.mark.load
def test_run_suite_runs_each_scenario_into_one_report_and_the_worst_exit_code(
    tmp_path: Path, service_url: str
) -> None:
    holds = _scenario(tmp_path, service_url, "holds")
    fails = _scenario(tmp_path, service_url, "fails", impossible=True)
    suite_file = tmp_path / "suite.yaml"
    suite = {"name": "nightly", "description": "from Python", "scenarios": [holds.name, fails.name]}
    suite_file.write_text(yaml.safe_dump(suite), encoding="utf-8")
    out = tmp_path / "runs"

    outcome = run_suite(suite_file, out=out)

    assert isinstance(outcome, SuiteOutcome)
    assert outcome.name == "nightly" and outcome.recovered == ()
    assert [(r.scenario, r.exit_code) for r in outcome.runs] == [
        ("holds", ExitCode.OK),
        ("fails", ExitCode.VERIFIER_FAILED),
    ]
    assert outcome.exit_code == ExitCode.VERIFIER_FAILED  # the worst scenario's
    assert outcome.runs[1].message.startswith("failed: latency")
    [suite_dir] = [d for d in out.iterdir() if d.is_dir()]
    assert (out / "index.html").is_file()  # the runs index, refreshed by every suite
    assert outcome.suite_dir == suite_dir and outcome.report == suite_dir / "report.html"
    assert {"suite.yaml", *REPORT_FILES} <= {f.name for f in suite_dir.iterdir()}
    summary = json.loads((suite_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["kind"] == "suite" and summary["exit_code"] == ExitCode.VERIFIER_FAILED
    for run in outcome.runs:
        assert run.run_dir.parent == suite_dir and {f.name for f in run.run_dir.iterdir()} >= RUN_FILES


def test_an_invalid_scenario_is_refused_before_anything_runs(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "name: broken\nfaults:\n  - {id: x, type: no_such_fault, duration: 1s}\n", encoding="utf-8"
    )
    out = tmp_path / "runs"
    with pytest.raises(ScenarioInvalid) as refused:
        run_scenario(path, out=out)
    assert any(p.file == path and "no_such_fault" in p.message for p in refused.value.problems)
    assert not out.exists()


def test_a_stop_requested_before_the_run_touches_nothing(tmp_path: Path, service_url: str) -> None:
    stop = StopRequest()
    stop.request("test")
    outcome = run_scenario(_scenario(tmp_path, service_url, "stopped"), out=tmp_path / "runs", stop=stop)
    assert outcome.exit_code == ExitCode.ABORTED and outcome.verdicts == []
    assert "nothing was touched" in outcome.message
    assert not (tmp_path / "runs").exists()
