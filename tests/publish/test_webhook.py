"""The webhook: one message when a run regresses or fails (as configured), none for a repeat pass, a Slack or a
generic body, and a receiver that fails — refused, slow, 500, redirecting away — changes nothing but publish.log.

Runs and suites are written by mlchaos's own writers (summary.json included); the receiver is a real HTTP server on
127.0.0.1 (conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from publish_helpers import earlier, make_run, make_suite
from support.local_processes import free_port
from support.webhook_receiver import SECRET_PATH, Receiver

from mlchaos.experiments.publish import LOG_NAME, PublishConfig, WebhookConfig, after_run, after_suite
from mlchaos.experiments.publish.webhook import Notification, ScenarioNote, slack
from mlchaos.experiments.run_view import Output

ENV = "TEST_MLCHAOS_HOOK"


def _config(monkeypatch: pytest.MonkeyPatch, url: str, **webhook: object) -> PublishConfig:
    monkeypatch.setenv(ENV, url)
    return PublishConfig(webhook=WebhookConfig.model_validate({"url_env": ENV, **webhook}))


def _log(directory: Path) -> str:
    return (directory / LOG_NAME).read_text(encoding="utf-8")


def test_a_regression_sends_exactly_one_slack_message_and_a_repeat_pass_none(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(monkeypatch, receiver.url, when="regression")
    history = tmp_path / "runs"
    run_dir = make_run(history)
    earlier(run_dir, history, days_ago=60, score=0.5)  # two months ago: worse — not what is compared
    same = earlier(run_dir, history, days_ago=30)  # last month: the same numbers

    [repeat] = after_run(run_dir, config, history=history, output=Output.quiet())
    assert receiver.bodies == []
    assert repeat.ok and repeat.detail == "not sent: when=regression and the run did not regress"

    # Last month held everything; this run's score is lower: worse beyond the noise margin.
    (same / "summary.json").write_text(
        json.dumps({**json.loads((same / "summary.json").read_text()), "score": 1.0}), encoding="utf-8"
    )
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["score"] = 0.8
    (run_dir / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    [sent] = after_run(run_dir, config, history=history, output=Output.quiet())

    assert len(receiver.bodies) == 1 and receiver.paths == [SECRET_PATH]
    [body] = receiver.bodies
    assert body["text"] == "mlchaos run synthetic-outage: passed (score 80%, 1 scenario(s) regressed)"
    section = body["blocks"][1]["text"]["text"]
    assert "*synthetic-outage* — passed, score 80%" in section and "score 100% → 80%" in section
    assert sent.ok and "reason: regression" in sent.detail and "HTTP 200" in sent.detail
    assert SECRET_PATH not in _log(run_dir) and "s3cr3t" not in _log(run_dir)
    assert _log(run_dir).count("webhook:") == 2  # both attempts recorded, the secret path in neither


def test_a_pass_turned_fail_is_a_regression_and_a_generic_body_says_what_failed(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(monkeypatch, receiver.url, when="regression", format="generic")
    history = tmp_path / "runs"
    passed = make_run(tmp_path / "before")
    earlier(passed, history, days_ago=30)
    failed = make_run(history, failing=True)

    after_run(failed, config, history=history, output=Output.quiet())

    [body] = receiver.bodies
    note = Notification.model_validate(body)  # the documented model, nothing more or less
    assert (note.kind, note.name, note.reason, note.status, note.exit_code) == (
        "run", "synthetic-outage", "regression", "failed", 1,
    )  # fmt: skip
    [scenario] = note.scenarios
    assert scenario.previous_status == "passed" and scenario.regressions[0] == "passed → failed"
    assert scenario.failed_verifiers == ["latency p50 (fault)"] and scenario.run_dir == failed.name


@pytest.mark.parametrize(
    ("when", "failing", "messages"),
    [("failure", True, 1), ("failure", False, 0), ("always", False, 1), ("regression", True, 0)],
    ids=["failure-on-a-failure", "failure-on-a-pass", "always", "regression-without-history"],
)
def test_when_decides_whether_a_message_is_sent(
    tmp_path: Path,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    when: str,
    failing: bool,
    messages: int,
) -> None:
    run_dir = make_run(tmp_path / "runs", failing=failing)
    after_run(run_dir, _config(monkeypatch, receiver.url, when=when), history=None, output=Output.quiet())
    assert len(receiver.bodies) == messages


def test_a_suite_sends_one_message_for_all_its_scenarios(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite_dir = tmp_path / "runs" / "20261122-100000-monthly"
    runs = [make_run(suite_dir, "holds"), make_run(suite_dir, "breaks", failing=True)]
    make_suite(suite_dir, runs)
    after_suite(suite_dir, runs, _config(monkeypatch, receiver.url), history=None, output=Output.quiet())

    [body] = receiver.bodies
    score = json.loads((suite_dir / "summary.json").read_text())["score"]
    assert body["text"] == f"mlchaos suite monthly: failed (score {score:.0%})"
    assert [b["text"]["text"].split(" — ")[0] for b in body["blocks"][1:3]] == ["*holds*", "*breaks*"]
    assert "failed: latency p50 (fault)" in body["blocks"][2]["text"]["text"]
    assert "webhook: sent" in _log(suite_dir)


@pytest.mark.parametrize("failure", ["refused", "500", "slow", "redirect-away"])
def test_a_failing_receiver_is_recorded_and_changes_nothing_else(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    url = receiver.url
    if failure == "refused":
        url = f"http://127.0.0.1:{free_port()}{SECRET_PATH}"  # nothing listens there
    elif failure == "500":
        receiver.status = 500
    elif failure == "slow":
        receiver.delay_s = 3.0
    else:
        receiver.status, receiver.redirect_to = 302, f"http://localhost:1{SECRET_PATH}"
    run_dir = make_run(tmp_path / "runs", failing=True)
    summary_before = (run_dir / "summary.json").read_bytes()
    config = _config(monkeypatch, url, when="failure", timeout="0.5s")

    [attempt] = after_run(run_dir, config, history=None, output=Output.quiet())

    expected = {
        "refused": "could not connect (connection refused)",
        "500": "answered HTTP 500 Internal Server Error",
        "slow": "no complete answer within 0.5s",
        "redirect-away": "redirected to another origin (http://localhost:1): not followed",
    }[failure]
    assert not attempt.ok and expected in attempt.detail
    assert "the verdict and the exit code are unchanged" in attempt.detail
    assert "webhook: FAILED: http://127.0.0.1:" in _log(run_dir) and expected in _log(run_dir)
    assert SECRET_PATH not in _log(run_dir)
    assert (run_dir / "summary.json").read_bytes() == summary_before
    if failure == "redirect-away":
        assert len(receiver.bodies) == 1  # sent once, not re-sent to where the redirect pointed


def test_text_from_a_run_cannot_mention_anyone_or_link_anywhere_in_slack() -> None:
    message = "<!channel> see <http://elsewhere.example|here> & more"
    scenario = ScenarioNote(
        scenario="x", status="aborted", score=None, message=message, failed_verifiers=[],
        previous_status=None, regressions=[], run_dir="d",
    )  # fmt: skip
    note = Notification(
        kind="run", name="x", reason="failure", status="aborted", exit_code=3, passed=False, regressed=False,
        score=None, started_at=None, finished_at=None, directory="d", scenarios=[scenario],
    )  # fmt: skip
    text = slack(note)["blocks"][1]["text"]["text"]
    assert "&lt;!channel&gt; see &lt;http://elsewhere.example|here&gt; &amp; more" in text
