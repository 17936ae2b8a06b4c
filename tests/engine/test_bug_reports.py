"""A bug in mlchaos is reported as a bug: its traceback saved in the run directory, exit 3, every fault reverted —
never "target not usable" or invalid input (exit 2), which would send the user off to fix a file that is fine.

In-process, no stack: the run goes through the library API (``run_scenario``) and the CLI's top level with the
step that breaks replaced; the one fault is "applied" through the journal, as the engine journals a real
injection, and its injector's revert is recorded.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.cli_runs import DATASET

from mlchaos.experiments import cli, crash, engine
from mlchaos.experiments.crash import CRASH_NAME
from mlchaos.experiments.engine import Experiment
from mlchaos.experiments.errors import ExitCode, TargetUnusable
from mlchaos.experiments.journal import Event, Journal, read_journal
from mlchaos.experiments.rollback import RollbackResult
from mlchaos.experiments.runs import run_scenario
from mlchaos.experiments.session import StackUnusable, TargetSession
from mlchaos.injectors import INJECTORS


@pytest.fixture
def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scenario with one latency fault on an external target nothing answers at (it is never contacted)."""
    monkeypatch.setenv("MLCHAOS_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setattr(crash, "_fallback_dir", None)
    monkeypatch.setattr(engine, "preflight", lambda plan: None)
    target = {
        "kind": "external",
        "service_url": "http://127.0.0.1:9",
        "toxiproxy_url": "http://127.0.0.1:9",
        "proxies": {"store": "store"},
    }
    document = {
        "name": "buggy",
        "target": target,
        "load": {"users": 1, "dataset": str(DATASET)},
        "steady_state": {"window": "3s"},
        "faults": [
            {"id": "slow", "type": "latency", "dependency": "store", "latency_ms": 100, "duration": 5}
        ],
        "recovery": "3s",
        "verifiers": [{"type": "availability", "min": 0.5}],
    }
    path = tmp_path / "buggy.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


@pytest.fixture
def reverted(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The undo data of every revert of a latency fault (no toxiproxy is contacted)."""
    undos: list[dict[str, Any]] = []
    injector = INJECTORS["latency"]
    monkeypatch.setattr(injector, "revert", lambda undo: undos.append(undo.model_dump()))
    return undos


def _injects_then(after: Callable[[], None]) -> Callable[[Experiment], None]:
    """A stand-in for the run's timeline: the fault journalled as applied (as the engine does around a real
    injection), then ``after``."""

    def drive(self: Experiment) -> None:
        planned = self.plan.faults[0]
        undo = planned.plan.undo.model_dump()
        self.journal.append(
            Event.INJECT_INTENT, fault_id=planned.spec.id, kind="latency", heals_itself=False, undo=undo
        )
        self.journal.append(Event.INJECTED, fault_id=planned.spec.id, kind="latency")
        after()

    return drive


def _bug() -> None:
    raise KeyError("a bug in the timeline")


def _assert_reported_as_a_bug(run_dir: Path, message: str, error: str) -> None:
    assert message.startswith(f"bug in mlchaos: {error}"), message
    saved = run_dir / CRASH_NAME
    assert f"traceback in {saved}" in message
    text = saved.read_text(encoding="utf-8")
    assert text.startswith("Traceback (most recent call last):") and error in text
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert (summary["status"], summary["exit_code"]) == ("aborted", 3), summary
    assert summary["message"].startswith("aborted: bug in mlchaos")


def test_a_bug_during_the_run_is_saved_and_the_fault_reverted(
    scenario: Path, reverted: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Experiment, "_drive", _injects_then(_bug))

    outcome = run_scenario(scenario, out=tmp_path / "out")

    assert outcome.exit_code == ExitCode.ABORTED
    _assert_reported_as_a_bug(outcome.run_dir, outcome.message, "KeyError: 'a bug in the timeline'")
    assert [undo["proxy"] for undo in reverted] == ["store"]
    events = [e.event for e in read_journal(outcome.run_dir / "journal.jsonl")]
    assert Event.REVERTED in events and events[-1] == Event.RUN_FINISHED


def test_a_bug_that_escapes_the_run_is_saved_and_the_fault_still_reverted(
    scenario: Path, reverted: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in a step nothing guards — here the end-of-run rollback itself, once — is caught around the whole
    run, which then reverts from the journal as ``mlchaos rollback`` would."""
    real = engine.revert_outstanding
    calls: list[str] = []

    def broken_once(journal: Journal, **kwargs: Any) -> RollbackResult:
        calls.append("revert")
        if len(calls) == 1:
            raise ZeroDivisionError("the rollback divided by zero")
        return real(journal, **kwargs)

    monkeypatch.setattr(Experiment, "_drive", _injects_then(lambda: None))
    monkeypatch.setattr(engine, "revert_outstanding", broken_once)

    outcome = run_scenario(scenario, out=tmp_path / "out")

    assert outcome.exit_code == ExitCode.ABORTED
    _assert_reported_as_a_bug(
        outcome.run_dir, outcome.message, "ZeroDivisionError: the rollback divided by zero"
    )
    assert calls == ["revert", "revert"] and [undo["proxy"] for undo in reverted] == ["store"]


def test_a_bug_in_the_verdicts_is_saved_as_one(
    scenario: Path, reverted: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def judge(self: Experiment, stop: object) -> None:
        raise ZeroDivisionError("a verifier divided by zero")

    monkeypatch.setattr(Experiment, "_drive", _injects_then(lambda: None))
    monkeypatch.setattr(Experiment, "_judge", judge)

    outcome = run_scenario(scenario, out=tmp_path / "out")

    assert outcome.exit_code == ExitCode.ABORTED
    _assert_reported_as_a_bug(
        outcome.run_dir, outcome.message, "ZeroDivisionError: a verifier divided by zero"
    )
    assert [undo["proxy"] for undo in reverted] == ["store"]  # by the end of the run, before the verdicts


def test_a_bug_before_the_run_is_not_an_unusable_target(
    scenario: Path, reverted: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def acquire(self: TargetSession, *args: object, **kwargs: object) -> None:
        raise AttributeError("'NoneType' object has no attribute 'service_url'")

    monkeypatch.setattr(TargetSession, "acquire", acquire)

    outcome = run_scenario(scenario, out=tmp_path / "out")

    assert outcome.exit_code == ExitCode.ABORTED and "target not usable" not in outcome.message
    _assert_reported_as_a_bug(outcome.run_dir, outcome.message, "AttributeError: 'NoneType' object")
    assert reverted == []  # nothing was applied: no plan existed yet


def test_a_target_that_cannot_be_used_is_still_invalid_without_a_crash_file(
    scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def acquire(self: TargetSession, *args: object, **kwargs: object) -> None:
        raise StackUnusable("redis-server crashed at start")

    monkeypatch.setattr(TargetSession, "acquire", acquire)

    outcome = run_scenario(scenario, out=tmp_path / "out")

    assert outcome.exit_code == ExitCode.INVALID
    assert outcome.message == "target not usable: redis-server crashed at start"
    assert not (outcome.run_dir / CRASH_NAME).exists()


def _main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["mlchaos", *args])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    code = exited.value.code
    assert isinstance(code, int)
    return code


def test_the_command_reports_a_bug_outside_any_run_with_exit_3(
    scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug between the runs")

    monkeypatch.setattr(cli, "run_scenarios", broken)
    out = tmp_path / "out"
    out.mkdir()

    assert _main(monkeypatch, "run", str(scenario), "--out", str(out)) == 3

    saved = out / CRASH_NAME  # no run directory exists: beside the runs, under --out
    assert "RuntimeError: a bug between the runs" in saved.read_text(encoding="utf-8")
    said = " ".join(capsys.readouterr().err.split())
    assert f"bug in mlchaos: RuntimeError: a bug between the runs (traceback in {saved}" in said


def test_the_command_exits_with_the_code_of_an_anticipated_error_and_saves_nothing(
    scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refused(*args: object, **kwargs: object) -> None:
        raise TargetUnusable("the target is not ready: /health/ready answered 503")

    monkeypatch.setattr(cli, "run_scenarios", refused)
    out = tmp_path / "out"
    out.mkdir()

    assert _main(monkeypatch, "run", str(scenario), "--out", str(out)) == 2

    assert list(out.iterdir()) == []
    assert "the target is not ready: /health/ready answered 503" in capsys.readouterr().err
