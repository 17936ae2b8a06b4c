"""A run's journal as OpenTelemetry spans, exported over OTLP/HTTP to a receiver in the test process
(support/otlp_receiver.py decodes the protobuf a collector gets): the spans are made from the journal as it is
written, with its times; a collector that refuses or never answers is said once and never holds a run up; with no
``OTEL_*`` variable nothing of the SDK is imported or started.

A real ``mlchaos run`` on the embedded stack checks the same against a real journal
(tests/engine/test_warmup.py: its run exports here too, so it costs no run of its own).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.otlp_receiver import Receiver, assert_lines_up_with_journal, otlp_receiver

from mlchaos.experiments.errors import ExitCode
from mlchaos.experiments.journal import Event, Journal, read_journal
from mlchaos.experiments.loader import load_scenario
from mlchaos.experiments.publish import otel
from mlchaos.experiments.publish.telemetry import run_telemetry
from mlchaos.experiments.scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]
OTEL_VARIABLES = [name for name in os.environ if name.startswith("OTEL_")]


@pytest.fixture(autouse=True)
def _no_otel_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    with otlp_receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        yield receiver


@pytest.fixture
def scenario() -> Scenario:
    return load_scenario(ROOT / "scenarios" / "feature-store-outage.yaml").scenario


def _journal_a_run(run_dir: Path) -> None:
    """What the engine journals for a run with one fault, written by two journals as a run's are (the engine's,
    and the runner's for a stack)."""
    engine, runner = Journal(run_dir), Journal(run_dir)
    runner.append(Event.STACK_STARTED, detail="stack")
    engine.append(Event.RUN_STARTED, detail="feature-store-outage")
    engine.append(Event.PHASE, phase="baseline")
    engine.append(Event.PHASE, phase="fault")
    engine.append(
        Event.INJECT_INTENT, fault_id="fs-down", kind="dependency_outage", heals_itself=False, undo={}
    )
    engine.append(Event.INJECTED, fault_id="fs-down", kind="dependency_outage")
    engine.append(Event.PHASE, phase="recovery")
    engine.append(Event.REVERT_INTENT, fault_id="fs-down", kind="dependency_outage")
    engine.append(Event.REVERTED, fault_id="fs-down", kind="dependency_outage")
    engine.append(Event.PHASE, phase="after")
    engine.append(Event.PHASE, phase="end")
    engine.append(Event.RUN_FINISHED, detail="rollback ok")
    engine.close()
    runner.close()


def test_spans_of_phases_and_faults_carry_the_journals_times(
    tmp_path: Path, receiver: Receiver, scenario: Scenario
) -> None:
    said: list[str] = []
    with run_telemetry(tmp_path, scenario, say=said.append) as telemetry:
        _journal_a_run(tmp_path)
        telemetry.result = (ExitCode.VERIFIER_FAILED, "failed: availability")

    assert said == []
    entries = read_journal(tmp_path / "journal.jsonl")
    # The spans take the journal's timestamps: exact but for float -> nanosecond rounding.
    assert_lines_up_with_journal(receiver.spans, entries, within_s=1e-6)
    spans = {s.name: s for s in receiver.spans}
    run, fault = spans["mlchaos run feature-store-outage"], spans["fault fs-down"]
    assert run.resource["service.name"] == "mlchaos"
    assert run.attributes["mlchaos.run.id"] == tmp_path.name
    assert (
        run.attributes["mlchaos.scenario.name"] == run.attributes["test.case.name"] == "feature-store-outage"
    )
    assert run.attributes["mlchaos.target.kind"] == "embedded"
    assert run.attributes["test.case.result.status"] == "fail" and run.attributes["mlchaos.exit_code"] == 1
    assert run.error == "failed: availability"
    assert [e.name for e in run.events] == ["stack_started", "run_started", "run_finished"]
    assert fault.attributes["mlchaos.fault.id"] == "fs-down"
    assert fault.attributes["mlchaos.fault.kind"] == "dependency_outage"
    assert fault.attributes["mlchaos.fault.heals_itself"] is False
    assert fault.attributes["mlchaos.run.id"] == tmp_path.name and fault.error is None
    # Each of the fault's entries is an event on its span, at its time, naming its line in the journal.
    journalled = [e for e in entries if e.fault_id == "fs-down"]
    assert [(e.name, e.ts, e.attributes["mlchaos.journal.seq"]) for e in fault.events] == [
        (e.event.value, pytest.approx(e.ts, abs=1e-6), e.seq) for e in journalled
    ]
    assert [e.name for e in fault.events] == ["inject_intent", "injected", "revert_intent", "reverted"]
    assert spans["phase fault"].attributes["mlchaos.phase.name"] == "fault"


def test_a_fault_left_applied_and_a_failed_injection_are_errors_on_their_spans(
    tmp_path: Path, receiver: Receiver, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "staging-chaos")
    with run_telemetry(tmp_path, scenario, say=pytest.fail) as telemetry:
        journal = Journal(tmp_path)
        journal.append(Event.RUN_STARTED)
        journal.append(Event.INJECT_INTENT, fault_id="a", kind="latency", undo={})
        journal.append(Event.INJECT_INTENT, fault_id="b", kind="pod_kill", undo={})
        journal.append(Event.INJECT_FAILED, fault_id="b", kind="pod_kill", detail="no pod matched app=model")
        journal.append(
            Event.REVERT_FAILED, fault_id="a", kind="latency", detail="toxiproxy: connection refused"
        )
        journal.append(Event.ABORTED, detail="could not inject 'b'")
        journal.append(Event.RUN_FINISHED, detail="rollback FAILED")
        journal.close()
        telemetry.result = (ExitCode.ROLLBACK_FAILED, "rollback failed")

    spans = {s.name: s for s in receiver.spans}
    assert spans["fault b"].error == "no pod matched app=model"
    assert spans["fault a"].error == "no revert of a in the journal"
    assert [e.name for e in spans["fault a"].events] == ["inject_intent", "revert_failed"]
    assert spans["mlchaos run feature-store-outage"].attributes["error.type"] == "rollback_failed"
    assert spans["mlchaos run feature-store-outage"].resource["service.name"] == "staging-chaos"


@pytest.mark.parametrize("status", [400, 503])
def test_a_collector_that_refuses_is_said_once_and_the_run_result_stands(
    tmp_path: Path,
    receiver: Receiver,
    scenario: Scenario,
    status: int,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    receiver.status = status
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_TIMEOUT", "3"
    )  # seconds: a 503 is retried (once or twice) until then
    said: list[str] = []
    with run_telemetry(tmp_path, scenario, say=said.append) as telemetry:
        _journal_a_run(tmp_path)
        telemetry.result = (ExitCode.OK, "all verifiers held")

    assert receiver.requests >= 1 and receiver.spans == []
    [problem] = said
    # The exporter's first reason: a 400 is not retried; a 503 is, until the timeout, after a transient error.
    reason = (
        "Failed to export spans batch code: 400, reason: Bad Request"
        if status == 400
        else "Service Unavailable"
    )
    assert problem == f"traces: 6 of 6 spans could not be exported ({reason}) to {receiver.url}/v1/traces"
    assert capfd.readouterr().err == ""  # the SDK's own complaints, batch after batch, are not printed


def test_a_collector_that_never_answers_is_given_up_at_the_runs_end(
    tmp_path: Path, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts connections, never reads or answers
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "60")
        monkeypatch.setattr(otel, "FLUSH_TIMEOUT_S", 0.5)
        said: list[str] = []
        with run_telemetry(tmp_path, scenario, say=said.append) as telemetry:
            _journal_a_run(tmp_path)
            telemetry.result = (ExitCode.OK, "all verifiers held")
    # Without the bound the exporter would wait up to its 60 s timeout (pytest's timeout would end the test).
    [problem] = said
    assert problem.startswith("traces: 6 of 6 spans could not be exported (not sent within 0.5s)")


@pytest.mark.parametrize(
    ("variables", "traces_on", "problem"),
    [
        ({}, False, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}, True, None),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True, None),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False, None),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            False,
            "grpc",
        ),
        ({"OTEL_TRACES_EXPORTER": "console"}, False, "console"),
        ({"OTEL_TRACES_EXPORTER": "otlp,zipkin"}, True, "zipkin"),
    ],
)
def test_traces_are_on_only_when_the_otel_variables_ask(
    variables: dict[str, str], traces_on: bool, problem: str | None
) -> None:
    from mlchaos.experiments.publish.telemetry_settings import publishing

    asked = publishing(variables)
    assert (asked.traces is not None) is traces_on
    if problem is None:
        assert asked.problems == ()
    else:
        [said] = asked.problems
        assert problem in said
    if variables == {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}:
        assert asked.traces is not None and asked.traces.endpoint == "http://collector:4318/v1/traces"


_PROBE = """
import os, sys, threading
from pathlib import Path
from mlchaos.experiments import run_scenario

def run_and_tell(out):
    outcome = run_scenario(Path(sys.argv[1]), out=Path(out))
    # What mlchaos itself would import for traces: the trace SDK and the OTLP exporter. (redis-py imports
    # opentelemetry.sdk.metrics by itself when the SDK is installed; that is not ours.)
    loaded = sorted(m for m in sys.modules if m in ("opentelemetry.sdk.trace", "opentelemetry.exporter.otlp"))
    print(int(outcome.exit_code), loaded, threading.active_count())

run_and_tell(sys.argv[2])
os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = sys.argv[3]
run_and_tell(sys.argv[2] + "-traced")
"""


def _unreachable_scenario(directory: Path) -> Path:
    """A scenario whose fault needs a toxiproxy its target does not give: the run journals why it stopped and
    ends at once (exit 2, target not usable) — through the whole of run_scenario."""
    (directory / "requests.jsonl").write_text('{"body": {"amount": 1}}\n', encoding="utf-8")
    path = directory / "unreachable.yaml"
    path.write_text(
        textwrap.dedent(
            """
            name: unreachable
            target: {kind: external, service_url: "http://127.0.0.1:9", predict_path: /predict}
            load: {users: 1, dataset: requests.jsonl}
            steady_state: {window: 1s}
            faults: [{id: slow, type: latency, dependency: feature_store, latency_ms: 50, duration: 1s}]
            recovery: 0s
            verifiers: [{type: availability, min: 0.1}]
            """
        ),
        encoding="utf-8",
    )
    return path


def test_a_library_run_imports_and_starts_nothing_without_otel_variables_and_exports_with_them(
    tmp_path: Path, receiver: Receiver
) -> None:
    """In a fresh process (this one has the SDK loaded by the tests above): a run with no ``OTEL_*`` variable,
    then one with an endpoint, both through ``run_scenario``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    scenario, out = _unreachable_scenario(tmp_path), tmp_path / "runs"
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(scenario), str(out), receiver.url],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    untraced, traced = done.stdout.splitlines()
    assert untraced == "2 [] 1"  # no trace SDK, no exporter, no thread but the main one
    # With an endpoint: the SDK loaded, its batch thread started and ended with the run.
    assert traced == "2 ['opentelemetry.exporter.otlp', 'opentelemetry.sdk.trace'] 1"
    assert list(out.iterdir()) and receiver.requests == 1  # the first run sent nothing

    [run_dir] = (tmp_path / "runs-traced").iterdir()
    entries = read_journal(run_dir / "journal.jsonl")
    [run] = receiver.spans  # it stopped before a phase began: the run's span alone, with the journal's events
    assert [e.name for e in run.events] == [e.event.value for e in entries]
    assert run.start == pytest.approx(entries[0].ts, abs=1e-6) and run.error is not None
    assert run.attributes["test.case.result.status"] == "fail" and run.attributes["mlchaos.exit_code"] == 2
    assert run.attributes["server.address"] == "127.0.0.1" and run.attributes["server.port"] == 9
    assert run.attributes["mlchaos.target.name"] == "127.0.0.1:9"
