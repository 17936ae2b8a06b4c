"""``load.warmup``: the load runs that long before the baseline; the plan, the load's clock and a real run place
it there, and nothing in it is judged (the synthetic side of it is in tests/reports/test_report_warmup_and_partial.py).

The real run also publishes its trace over OTLP and its fault windows to Grafana (tests/telemetry has the rest of
those): a run with every phase and a real fault, so they cost no run of their own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from engine_helpers import write_scenario
from support.cli_runs import run_mlchaos
from support.fake_grafana import fake_grafana
from support.otlp_receiver import assert_lines_up_with_journal, otlp_receiver
from typer.testing import CliRunner

from mlchaos.experiments.cli import app
from mlchaos.experiments.journal import Event, read_journal
from mlchaos.experiments.load.spec_from_scenario import load_spec
from mlchaos.experiments.loader import load_scenario
from mlchaos.experiments.plan import Action, make_plan, placeholder_endpoints
from mlchaos.experiments.targets import EmbeddedTarget
from mlchaos.experiments.verifiers.base import Phase
from mlchaos.staging.endpoints import StackEndpoints

SPIKE = {"type": "traffic_spike", "multiplier": 2, "at": "1s", "duration": "3s"}


def _spiked(tmp_path: Path) -> Path:
    return write_scenario(
        tmp_path,
        SPIKE,
        extra={"load": {"users": 4, "spawn_rate": 2, "warmup": "5s"}, "steady_state": {"window": "6s"}},
    )


def test_the_warmup_comes_before_the_baseline_on_the_plan_and_the_loads_clock(tmp_path: Path) -> None:
    scenario = load_scenario(_spiked(tmp_path)).scenario
    assert scenario.duration == 5 + 2 * 6 + 4 + 3  # warm-up, baseline and after, the fault's span, recovery
    plan = make_plan(scenario, placeholder_endpoints(EmbeddedTarget()))
    phases = [(s.offset, s.phase) for s in plan.steps if s.action == Action.PHASE]
    assert phases == [
        (-5, Phase.WARMUP),
        (0, Phase.BASELINE),
        (6, Phase.FAULT),
        (10, Phase.RECOVERY),
        (13, Phase.AFTER),
    ]
    assert plan.end == 19 and plan.duration == 24
    # The load's clock starts with the load: 2 s of ramp, 5 s of warm-up, then the baseline's 6 s to the fault.
    spec = load_spec(plan, 60.0)
    ramp, warmup, baseline = 2.0, 5.0, 6.0
    assert [(s.at_s, s.users) for s in spec.stages] == [
        (ramp + warmup + baseline + 1, 8),
        (ramp + warmup + baseline + 4, 4),
    ]


def test_plan_shows_the_warmup(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["plan", str(_spiked(tmp_path))])
    assert result.exit_code == 0, result.output
    rows = [" ".join(line.replace("│", " ").split()) for line in result.output.splitlines()]
    assert "-5.0s warmup phase begins (load runs, nothing is judged)" in rows
    assert "+0.0s baseline phase begins" in rows and "+19.0s end: load stops, verifiers run" in rows
    assert any(
        row.startswith("warm-up: the load runs 5s before the baseline; nothing in it is judged")
        for row in rows
    )


@pytest.mark.stack
def test_a_real_run_with_a_warmup_judges_from_the_baseline_on(stack: StackEndpoints, tmp_path: Path) -> None:
    scenario = write_scenario(
        tmp_path,
        {"type": "latency", "dependency": "feature_store", "latency_ms": 50},
        target=stack.as_external_target(),
        fault_s=2,
        extra={"load": {"warmup": "3s"}},
    )
    token = "glsa_warmup-run-token-5f1e"
    with otlp_receiver() as collector, fake_grafana(token) as grafana:
        publishing = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
            "MLCHAOS_GRAFANA_URL": grafana.url,
            "MLCHAOS_GRAFANA_TOKEN": token,
        }
        result = run_mlchaos("run", "--out", str(tmp_path / "runs"), str(scenario), env=publishing)
    assert result.returncode == 0, result.stdout + result.stderr
    [run_dir] = (tmp_path / "runs").iterdir()
    entries = read_journal(run_dir / "journal.jsonl")
    marks = {e.phase: e.ts for e in entries if e.event == Event.PHASE}
    assert list(marks) == ["warmup", "baseline", "fault", "recovery", "after", "end"]
    assert marks["baseline"] - marks["warmup"] == pytest.approx(3.0, abs=0.5)

    requests = pd.read_parquet(run_dir / "requests.parquet")
    judged = requests[(requests["start"] >= marks["baseline"]) & (requests["start"] < marks["end"])]
    warm = requests[(requests["start"] >= marks["warmup"]) & (requests["start"] < marks["baseline"])]
    assert len(warm) > 20, "the load ran through the warm-up"
    verdicts = json.loads((run_dir / "verdicts.json").read_text(encoding="utf-8"))["verdicts"]
    [availability] = [v for v in verdicts if v["verifier"] == "availability"]
    assert availability["details"]["requests"] == len(judged)
    assert "warm-up (not judged)" in (run_dir / "report.html").read_text(encoding="utf-8")

    # Its trace, as a collector received it, says what the journal says: issue 15 asks within 50 ms.
    assert_lines_up_with_journal(collector.spans, entries, within_s=0.05)
    [fault] = [s for s in collector.spans if s.name.startswith("fault ")]
    assert fault.attributes["mlchaos.fault.kind"] == "latency"
    assert fault.attributes["mlchaos.run.id"] == run_dir.name
    # Grafana got the run's region and the fault's, at the journal's times; the token went nowhere else.
    [_, window] = grafana.annotations
    intent, reverted = (next(e.ts for e in entries if e.event == ev) for ev in ("inject_intent", "reverted"))
    assert (window["time"], window["timeEnd"]) == (round(intent * 1000), round(reverted * 1000))
    assert f"run:{run_dir.name}" in window["tags"]
    written = [f.read_bytes() for f in run_dir.iterdir() if f.is_file()]
    assert not any(token.encode() in data for data in written) and token not in result.stdout + result.stderr
