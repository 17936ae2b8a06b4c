"""The webhook message: when one is sent, and its two bodies — Slack's incoming-webhook JSON and mlchaos's own.

The generic body is :class:`Notification` (``schema_version`` 1; fields are only added within a version). The
Slack body has a one-line ``text`` (what notifications and clients without blocks show) and ``blocks``: the
verdict, then one section per scenario with what failed or got worse.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlchaos.experiments.publish.config import Format, When
from mlchaos.experiments.publish.results import Finished, ScenarioResult

MAX_SLACK_SCENARIOS = 40
"""Slack takes at most 50 blocks a message; a suite with more scenarios lists the first ones and says how many
more there are."""


def reason_to_send(finished: Finished, when: When) -> str | None:
    """Why this result is worth a message under ``when`` (the generic body's ``reason``), or ``None``: send none."""
    if finished.regressed and when != When.FAILURE:
        return "regression"
    if not finished.passed and when in (When.FAILURE, When.ALWAYS):
        return "failure"
    return "finished" if when == When.ALWAYS else None


class ScenarioNote(BaseModel):
    """One scenario's run in a notification."""

    model_config = ConfigDict(frozen=True)

    scenario: str
    status: str = Field(description="passed | failed | invalid | aborted | rollback_failed")
    score: float | None = Field(description="0..1; null when nothing was judged")
    message: str = Field(description="One line: why this status.")
    failed_verifiers: list[str] = Field(
        description="Names of the verdicts that failed, in the report's order."
    )
    previous_status: str | None = Field(description="The previous run's status; null: no earlier run found.")
    regressions: list[str] = Field(description="What got worse since the previous run, in words.")
    run_dir: str = Field(description="The run directory's name (not its path).")


class Notification(BaseModel):
    """The generic webhook body (``format: generic``)."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = 1
    kind: Literal["run", "suite"]
    name: str = Field(description="The suite's name, or the scenario's for `mlchaos run`.")
    reason: Literal["failure", "regression", "finished"] = Field(
        description="Why it was sent: it failed, a scenario regressed, or `when: always`."
    )
    status: str
    exit_code: int
    passed: bool
    regressed: bool
    score: float | None
    started_at: str | None
    finished_at: str | None
    directory: str = Field(description="The run or suite directory's name (not its path).")
    scenarios: list[ScenarioNote]


def notification(finished: Finished, reason: str) -> Notification:
    return Notification.model_validate(
        {
            "kind": finished.kind,
            "name": finished.name,
            "reason": reason,
            "status": finished.status,
            "exit_code": finished.exit_code,
            "passed": finished.passed,
            "regressed": finished.regressed,
            "score": finished.score,
            "started_at": finished.started_at,
            "finished_at": finished.finished_at,
            "directory": finished.directory.name,
            "scenarios": [_note(s) for s in finished.scenarios],
        }
    )


def _note(result: ScenarioResult) -> ScenarioNote:
    run = result.run
    return ScenarioNote(
        scenario=run.scenario,
        status=run.status,
        score=run.score,
        message=run.message,
        failed_verifiers=[v.name for v in run.verdicts if not v.passed],
        previous_status=result.previous_status,
        regressions=list(result.regressions),
        run_dir=result.run_dir.name,
    )


def body(finished: Finished, reason: str, format_: Format) -> bytes:
    """The JSON body to send, UTF-8."""
    note = notification(finished, reason)
    document: Any = note.model_dump(mode="json") if format_ == Format.GENERIC else slack(note)
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def _escape(text: str) -> str:
    """Slack's mrkdwn gives ``&``, ``<`` and ``>`` meaning (links, mentions): shown as written, never as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _score(score: float | None) -> str:
    return "not judged" if score is None else f"{score:.0%}"


def headline(note: Notification) -> str:
    regressed = sum(bool(s.regressions) for s in note.scenarios)
    worse = f", {regressed} scenario(s) regressed" if regressed else ""
    return f"mlchaos {note.kind} {note.name}: {note.status} (score {_score(note.score)}{worse})"


def slack(note: Notification) -> dict[str, Any]:
    """Slack's incoming-webhook body: ``text`` and ``blocks``."""
    icon = ":white_check_mark:" if note.passed else ":x:"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} *{_escape(headline(note))}*"}}
    ]
    for scenario in note.scenarios[:MAX_SLACK_SCENARIOS]:
        lines = [f"*{_escape(scenario.scenario)}* — {scenario.status}, score {_score(scenario.score)}"]
        if scenario.regressions:
            lines.append("worse than last time: " + _escape("; ".join(scenario.regressions)))
        if scenario.failed_verifiers:
            lines.append("failed: " + _escape(", ".join(scenario.failed_verifiers)))
        elif scenario.status != "passed":
            lines.append(_escape(scenario.message))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}})
    more = len(note.scenarios) - MAX_SLACK_SCENARIOS
    context = f"{note.directory}" + (f" · {more} more scenario(s) in the report" if more > 0 else "")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _escape(context)}]})
    return {"text": _escape(headline(note)), "blocks": blocks}
