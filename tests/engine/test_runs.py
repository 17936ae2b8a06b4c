"""Runs that end badly still leave nothing applied: SIGINT, SIGTERM, SIGKILL + rollback, invalid targets."""

from __future__ import annotations

import signal
from pathlib import Path

import psutil
import pytest
from engine_helpers import assert_judged_partially, program_state, proxy_state, write_scenario
from support.cli_runs import load_children, run_mlchaos, start_run, wait_until_gone

from mlchaos.experiments.journal import Event, read_journal, stacks_started
from mlchaos.staging.endpoints import StackEndpoints

pytestmark = pytest.mark.stack


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_fault_reverts_the_toxic_and_exits_3(
    stack: StackEndpoints, tmp_path: Path, signum: signal.Signals
) -> None:
    fault = {"type": "latency", "dependency": "feature_store", "latency_ms": 300}
    scenario = write_scenario(tmp_path, fault, target=stack.as_external_target(), fault_s=30)
    run = start_run(tmp_path, str(scenario))
    run.wait_for(Event.INJECTED)
    assert proxy_state(stack, "feature_store")["toxics"], "the fault should be applied while the run goes on"
    run.signal(signum)
    assert run.finish() == 3, run.output()
    assert proxy_state(stack, "feature_store")["toxics"] == []
    events = [e.event for e in run.journal()]
    assert Event.ABORTED in events and events[-1] == Event.RUN_FINISHED
    assert f"interrupted by {signum.name}" in run.output()
    assert not wait_until_gone(load_children())
    assert_judged_partially(run.run_dir(), signum.name)


def test_sigterm_while_a_program_is_killed_leaves_it_running(stack: StackEndpoints, tmp_path: Path) -> None:
    scenario = write_scenario(
        tmp_path,
        {"type": "pod_kill", "program": "primary-model"},
        target=stack.as_external_target(),
        fault_s=30,
    )
    run = start_run(tmp_path, str(scenario))
    run.wait_for(Event.INJECTED)
    run.signal(signal.SIGTERM)
    assert run.finish() == 3, run.output()
    assert program_state(stack, "primary-model") in {"RUNNING", "STARTING"}
    assert [e.fault_id for e in run.journal() if e.event == Event.REVERTED] == ["f"]


def test_rollback_undoes_what_a_sigkilled_run_left_applied(stack: StackEndpoints, tmp_path: Path) -> None:
    scenario = write_scenario(
        tmp_path,
        {"type": "feature_store_outage", "mode": "down"},
        target=stack.as_external_target(),
        fault_s=60,
    )
    run = start_run(tmp_path, str(scenario))
    run.wait_for(Event.INJECTED)
    run.signal(signal.SIGKILL)
    run.finish()
    assert proxy_state(stack, "feature_store")["enabled"] is False, "SIGKILL must leave the fault applied"
    # The load child notices its parent is gone (stdin closes) and stops by itself.
    assert not wait_until_gone(load_children())

    first = run_mlchaos("rollback", str(run.run_dir()))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "reverted f" in first.stdout
    assert proxy_state(stack, "feature_store")["enabled"] is True
    again = run_mlchaos("rollback", str(run.run_dir()))
    assert again.returncode == 0 and "nothing to undo" in again.stdout


def test_rollback_stops_an_embedded_stack_whose_run_was_sigkilled(tmp_path: Path) -> None:
    scenario = write_scenario(
        tmp_path, {"type": "latency", "dependency": "feature_store", "latency_ms": 200}, fault_s=60
    )
    run = start_run(tmp_path, str(scenario))
    run.wait_for(Event.INJECTED, timeout_s=90)
    run.signal(signal.SIGKILL)
    run.finish()
    [stack] = stacks_started(read_journal(run.run_dir() / "journal.jsonl"))
    supervisord = psutil.Process(stack.supervisord_pid)
    family = [supervisord, *supervisord.children(recursive=True)]
    assert len(family) >= 5, "supervisord and its four programs outlive a SIGKILLed run"

    result = run_mlchaos("rollback", str(run.run_dir()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stopped embedded stack" in result.stdout
    assert not wait_until_gone(family)
    assert not Path(stack.workdir).exists()


def test_an_unreachable_target_is_invalid_and_touches_nothing(tmp_path: Path) -> None:
    target = {
        "kind": "external",
        "service_url": "http://127.0.0.1:9",
        "toxiproxy_url": "http://127.0.0.1:9",
        "proxies": {"feature_store": "feature_store"},
    }
    scenario = write_scenario(tmp_path, {"type": "feature_store_outage"}, target=target)
    result = run_mlchaos("run", "--out", str(tmp_path / "runs"), str(scenario), timeout_s=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not ready" in result.stdout + result.stderr
    [run_dir] = (tmp_path / "runs").iterdir()
    assert not any(e.event == Event.INJECT_INTENT for e in read_journal(run_dir / "journal.jsonl"))


def test_rollback_stops_a_stack_whose_start_up_was_killed(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, {"type": "latency", "dependency": "feature_store", "latency_ms": 200})
    run = start_run(tmp_path, str(scenario))
    run.wait_for(Event.STACK_STARTED, timeout_s=60)
    assert not any(e.event == Event.RUN_STARTED for e in run.journal()), "killed during the stack's start-up"
    run.signal(signal.SIGKILL)
    run.finish()
    [stack] = stacks_started(run.journal())
    supervisord = psutil.Process(stack.supervisord_pid)
    family = [supervisord, *supervisord.children(recursive=True)]
    result = run_mlchaos("rollback", str(run.run_dir()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stopped embedded stack" in result.stdout
    assert not wait_until_gone(family)
    assert not Path(stack.workdir).exists()
