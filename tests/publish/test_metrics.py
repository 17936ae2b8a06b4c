"""The metrics of a finished run, before any Pushgateway: what is left out when it was not measured, and a
Pushgateway that cannot be reached recorded like a failing webhook (the real Pushgateway: test_pushgateway.py)."""

from __future__ import annotations

import json
from pathlib import Path

from publish_helpers import make_run
from support.local_processes import free_port

from mlchaos.experiments.publish import LOG_NAME, PublishConfig, PushgatewayConfig, after_run
from mlchaos.experiments.publish.metrics import BY_NAME, samples
from mlchaos.experiments.publish.results import finished_run
from mlchaos.experiments.run_view import Output


def test_a_run_alone_has_scenario_metrics_only_and_leaves_out_what_was_not_measured(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "runs", failing=True)
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    summary["faults"][0]["mttr_s"] = None  # never recovered
    (run_dir / "summary.json").write_text(json.dumps(summary), encoding="utf-8")

    found = list(samples(finished_run(run_dir, history=None)))

    names = {name for name, _, _ in found}
    assert not {n for n in names if n.startswith("mlchaos_suite_")}  # a run alone is no suite
    assert "mlchaos_fault_mttr_seconds" not in names  # absent, not 0
    assert "mlchaos_scenario_last_success_timestamp_seconds" not in names  # it failed, and no history
    assert ("mlchaos_scenario_passed", ("synthetic-outage",), 0.0) in found
    for name, labels, _ in found:  # every sample fits its documented labels
        assert len(labels) == len(BY_NAME[name].labels), name


def test_a_pushgateway_that_refuses_is_recorded_and_changes_nothing(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "runs")
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = PublishConfig(pushgateway=PushgatewayConfig(url=url, timeout=2))

    [attempt] = after_run(run_dir, config, history=None, output=Output.quiet())

    assert not attempt.ok
    assert attempt.detail == (
        f"FAILED: {url}: could not connect (connection refused); the verdict and the exit code are unchanged"
    )
    assert f"pushgateway: {attempt.detail}" in (run_dir / LOG_NAME).read_text(encoding="utf-8")
