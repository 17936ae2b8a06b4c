"""``mlchaos suite``: the monthly run — every scenario in turn, past failures, one combined report and exit code."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from engine_helpers import write_scenario
from support.cli_runs import run_mlchaos
from support.webhook_receiver import SECRET_PATH, Receiver, receiving

from mlchaos.staging.endpoints import StackEndpoints

pytestmark = pytest.mark.stack

LATENCY = {"type": "latency", "dependency": "feature_store", "latency_ms": 100}
# What is under test is the suite — its order, reports, exit code, webhook and history — not the target: 1 s
# windows, fault and recovery (CI time is a budget).
SHORT = {"steady_state": {"window": "1s"}, "recovery": "1s"}
HOOK_ENV = "MLCHAOS_TEST_SUITE_HOOK"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """The suite's webhook (its `publish:` block names HOOK_ENV): a real HTTP server on 127.0.0.1."""
    with receiving() as state:
        monkeypatch.setenv(HOOK_ENV, state.url)
        yield state


def _suite(directory: Path, stack: StackEndpoints) -> Path:
    target = stack.as_external_target()
    holds = write_scenario(directory, LATENCY, target=target, name="holds", fault_s=1, extra=SHORT)
    # p50 under 1 ms while every store lookup takes 100 ms: this verifier cannot hold.
    impossible = {"type": "latency", "phase": "fault", "percentile": 50, "max_ms": 1}
    fails = write_scenario(
        directory, LATENCY, target=target, name="fails", fault_s=1, extra={**SHORT, "verifiers": [impossible]}
    )
    # A fault on a dependency the target has no proxy for: the target is not usable for this scenario.
    no_proxy = {**target, "proxies": {"cache": "cache"}}
    unusable = write_scenario(directory, LATENCY, target=no_proxy, name="unusable")
    suite = directory / "monthly.yaml"
    suite.write_text(
        yaml.safe_dump(
            {
                "name": "monthly",
                "description": "three scenarios <b>and</b> a verdict",
                "scenarios": [p.name for p in (holds, fails, unusable)],
                "publish": {"webhook": {"url_env": HOOK_ENV, "when": "failure", "format": "generic"}},
            }
        ),
        encoding="utf-8",
    )
    return suite


def test_a_suite_runs_past_failures_into_one_report_and_the_worst_exit_code(
    stack: StackEndpoints, tmp_path: Path, receiver: Receiver
) -> None:
    suite = _suite(tmp_path, stack)
    out = tmp_path / "runs"

    first = run_mlchaos("suite", "--out", str(out), str(suite), timeout_s=240)
    output = first.stdout + first.stderr
    assert first.returncode == 2, output  # the worst: one scenario's target was not usable (invalid)
    [suite_dir] = [d for d in out.iterdir() if d.is_dir()]  # and OUT/index.html
    summary = json.loads((suite_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["kind"] == "suite" and summary["suite"] == "monthly" and summary["exit_code"] == 2
    assert [(r["scenario"], r["status"]) for r in summary["runs"]] == [
        ("holds", "passed"),
        ("fails", "failed"),
        ("unusable", "invalid"),
    ]
    assert summary["scenarios"] == {"total": 3, "passed": 1}
    assert {"suite.yaml", "report.html", "junit.xml", "summary.json"} <= {p.name for p in suite_dir.iterdir()}
    for run in summary["runs"]:  # every scenario, even the one that never started, has its own outputs
        for name in ("report.html", "junit.xml", "summary.json"):
            assert (suite_dir / run["run_dir"] / name).is_file(), (run["scenario"], name)
    unusable = next(r for r in summary["runs"] if r["scenario"] == "unusable")
    assert "target not usable" in unusable["message"] and "feature_store" in unusable["message"]

    junit = ET.parse(suite_dir / "junit.xml").getroot()
    assert [s.get("name") for s in junit.iter("testsuite")] == ["holds", "fails", "unusable"]
    failed = [c.get("name") for c in junit.iter("testcase") if c.find("failure") is not None]
    assert failed == ["latency p50 (fault)"]

    html = (suite_dir / "report.html").read_text(encoding="utf-8")
    assert "three scenarios &lt;b&gt;and&lt;/b&gt; a verdict" in html
    assert all(f'<a href="#run-{i}">{name}</a>' in html for i, name in enumerate(["holds", "fails"], 1))
    assert "<strong>1</strong> of 3 scenarios passed" in html
    assert "Since last time" in html  # history defaults to --out: empty the first time
    assert "suite report:" in output and str(suite_dir / "report.html") in output
    # One webhook message for the whole suite (`when: failure`), in the generic format.
    [message] = receiver.bodies
    assert (message["kind"], message["name"], message["reason"], message["exit_code"]) == (
        "suite", "monthly", "failure", 2,
    )  # fmt: skip
    assert [(s["scenario"], s["status"]) for s in message["scenarios"]] == [
        (r["scenario"], r["status"]) for r in summary["runs"]
    ]
    assert "webhook: sent to http://127.0.0.1:" in output

    # The suite refreshed OUT/index.html.
    assert f"index: {out / 'index.html'} (3 run(s), 1 suite(s))" in output

    # A month before the first suite, "holds" ran too: a copy of its summary.json, dated back (all the index and
    # the trend read of an earlier run).
    first_holds = suite_dir / summary["runs"][0]["run_dir"]
    holds = json.loads((first_holds / "summary.json").read_text(encoding="utf-8"))
    month_before = datetime.fromisoformat(holds["started_at"].replace("Z", "+00:00")) - timedelta(days=30)
    holds["started_at"] = month_before.strftime("%Y-%m-%dT%H:%M:%SZ")
    (out / "last-month-holds").mkdir()
    (out / "last-month-holds" / "summary.json").write_text(json.dumps(holds), encoding="utf-8")

    # Next month: the same suite again. The first suite's runs are now its history. Its webhook answers 500: the
    # exit code is the suite's all the same, and the console and publish.log say that the message failed.
    receiver.status = 500
    second = run_mlchaos("suite", "--out", str(out), str(suite), timeout_s=240)
    assert second.returncode == 2, second.stdout + second.stderr
    assert "answered HTTP 500" in second.stderr
    assert "the verdict and the exit code are unchanged" in second.stderr
    assert len(receiver.bodies) == 2
    # The webhook URL's path is its secret: in no file either suite wrote, and on neither console.
    written = [p.read_bytes() for p in out.rglob("*") if p.is_file()]
    assert not [b for b in written if SECRET_PATH.encode() in b]
    assert SECRET_PATH not in output + second.stdout + second.stderr
    [newer] = [d for d in out.iterdir() if d not in (suite_dir, out / "last-month-holds") and d.is_dir()]
    assert "webhook: FAILED: http://127.0.0.1:" in (newer / "publish.log").read_text(encoding="utf-8")
    # The index the second suite refreshed: the trend of "holds" shows all three runs, oldest first.
    index = (out / "index.html").read_text(encoding="utf-8")
    start = index.index('id="trend-holds"')
    trend = index[start : index.index("</section>", start)]
    newest = json.loads((newer / "summary.json").read_text(encoding="utf-8"))["runs"][0]["run_dir"]
    runs = ["last-month-holds", summary["runs"][0]["run_dir"], f"{newer.name}/{newest}"]
    assert [trend.index(r) for r in runs] == sorted(trend.index(r) for r in runs), trend
    assert "3 run(s)" in trend and f'href="{newer.name}/report.html"' in index
    html = (newer / "report.html").read_text(encoding="utf-8")
    first_runs = {r["run_dir"].split("/")[-1] for r in summary["runs"]}
    assert all(name in html for name in first_runs), "each scenario's trend lists last month's run"
    assert "change since last time" in html


def test_a_bad_suite_file_is_refused_with_its_line_before_anything_runs(tmp_path: Path) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: monthly\nscenarios:\n  - missing.yaml\nschedule: monthly\n", encoding="utf-8")
    result = run_mlchaos("suite", "--out", str(tmp_path / "runs"), str(suite), timeout_s=60)
    assert result.returncode == 2
    assert f"{suite}:3:5: scenarios[0]: no such file" in result.stderr
    assert f"{suite}:4:1: schedule: unknown field 'schedule'" in result.stderr
    assert not (tmp_path / "runs").exists()
