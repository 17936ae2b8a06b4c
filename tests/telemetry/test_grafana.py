"""A run's fault windows as Grafana annotations: posted at the run's end with the journal's times, tagged with the
scenario, run and fault, authorised by the token; a Grafana that refuses or hangs is said once, without the token,
and never changes the run's result.

Grafana itself is not packaged for Debian here: support/fake_grafana.py implements its annotation endpoint and
checks the token as Grafana does (its docstring says what it stands in for). A real ``mlchaos run`` posts to it
too (tests/engine/test_warmup.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fake_grafana import FakeGrafana, fake_grafana

from mlchaos.experiments.errors import ExitCode
from mlchaos.experiments.journal import Event, Journal, read_journal
from mlchaos.experiments.loader import load_scenario
from mlchaos.experiments.publish import grafana as grafana_module
from mlchaos.experiments.publish.telemetry import run_telemetry
from mlchaos.experiments.scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "glsa_test-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def _nothing_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith(("OTEL_", "MLCHAOS_GRAFANA_"))]:
        monkeypatch.delenv(name)


@pytest.fixture
def grafana(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGrafana]:
    with fake_grafana(TOKEN) as grafana:
        monkeypatch.setenv("MLCHAOS_GRAFANA_URL", grafana.url + "/")
        monkeypatch.setenv("MLCHAOS_GRAFANA_TOKEN", TOKEN)
        yield grafana


@pytest.fixture
def scenario() -> Scenario:
    return load_scenario(ROOT / "scenarios" / "feature-store-outage.yaml").scenario


def _journal_a_run(run_dir: Path) -> None:
    journal = Journal(run_dir)
    journal.append(Event.RUN_STARTED)
    journal.append(Event.PHASE, phase="baseline")
    journal.append(Event.INJECT_INTENT, fault_id="fs-down", kind="feature_store_outage", undo={})
    journal.append(Event.INJECTED, fault_id="fs-down", kind="feature_store_outage")
    journal.append(Event.INJECT_INTENT, fault_id="slow", kind="latency", undo={})
    journal.append(Event.REVERT_INTENT, fault_id="fs-down", kind="feature_store_outage")
    journal.append(Event.REVERTED, fault_id="fs-down", kind="feature_store_outage")
    journal.append(Event.REVERTED, fault_id="slow", kind="latency")
    journal.append(Event.PHASE, phase="end")
    journal.append(Event.RUN_FINISHED, detail="rollback ok")
    journal.close()


def _publish(run_dir: Path, scenario: Scenario) -> list[str]:
    said: list[str] = []
    with run_telemetry(run_dir, scenario, say=said.append) as telemetry:
        _journal_a_run(run_dir)
        telemetry.result = (ExitCode.OK, "all verifiers held")
    return said


def test_each_fault_window_and_the_run_are_annotated_with_the_journals_times(
    tmp_path: Path, grafana: FakeGrafana, scenario: Scenario
) -> None:
    assert _publish(tmp_path, scenario) == []

    entries = read_journal(tmp_path / "journal.jsonl")
    at = {(e.event, e.fault_id): round(e.ts * 1000) for e in entries}
    base = ["mlchaos", "scenario:feature-store-outage", f"run:{tmp_path.name}"]
    run, outage, slow = grafana.annotations
    assert run == {
        "time": round(entries[0].ts * 1000),
        "timeEnd": at[Event.RUN_FINISHED, None],
        "tags": [*base, "result:pass"],
        "text": "mlchaos run feature-store-outage on embedded: all verifiers held",
    }
    assert (outage["time"], outage["timeEnd"]) == (
        at[Event.INJECT_INTENT, "fs-down"],
        at[Event.REVERTED, "fs-down"],
    )
    assert outage["tags"] == [*base, "fault:fs-down", "kind:feature_store_outage"]
    assert outage["text"] == "mlchaos fault fs-down (feature_store_outage) in feature-store-outage: reverted"
    assert (slow["time"], slow["timeEnd"]) == (at[Event.INJECT_INTENT, "slow"], at[Event.REVERTED, "slow"])


def test_the_token_can_come_from_a_file(
    tmp_path: Path, grafana: FakeGrafana, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLCHAOS_GRAFANA_TOKEN")
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n", encoding="utf-8")  # as a mounted Secret: a trailing newline is common
    monkeypatch.setenv("MLCHAOS_GRAFANA_TOKEN_FILE", str(secret))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    assert _publish(run_dir, scenario) == []
    assert len(grafana.annotations) == 3


def test_a_grafana_that_refuses_the_token_is_said_once_without_it(
    tmp_path: Path, grafana: FakeGrafana, scenario: Scenario
) -> None:
    grafana.token = "another-token"
    said = _publish(tmp_path, scenario)
    assert said == [
        f"annotations: 3 of 3 not posted to {grafana.url} ({grafana.url} answered HTTP 401 Unauthorized)"
    ]
    assert grafana.refused == 1 and grafana.annotations == []  # the first refusal stops the rest
    assert TOKEN not in (tmp_path / "journal.jsonl").read_text(encoding="utf-8")


def test_a_grafana_that_never_answers_is_given_up_within_the_deadline(
    tmp_path: Path, grafana: FakeGrafana, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    grafana.hang = True
    monkeypatch.setattr(grafana_module, "REQUEST_DEADLINE_S", 0.5)
    said = _publish(tmp_path, scenario)
    assert said == [
        f"annotations: 3 of 3 not posted to {grafana.url} ({grafana.url}: no complete answer within 0.5s)"
    ]


def test_a_grafana_url_that_is_not_http_is_refused_before_the_run(
    tmp_path: Path, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCHAOS_GRAFANA_URL", "grafana:3000")
    said = _publish(tmp_path, scenario)
    assert said == [
        "MLCHAOS_GRAFANA_URL must be an http:// or https:// URL, not 'grafana:3000': no annotations"
    ]
