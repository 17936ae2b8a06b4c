"""The publishing step the runner calls once a run or a suite has written its outputs.

Publishing never changes a result: whatever happens here — a webhook refusing, timing out or answering 500, a
Pushgateway that is down, even a bug — the verdicts and the exit code stay what the run decided. Each attempt is
said on the console (problems on the error console) and written as one line to ``publish.log`` in the run or suite
directory, so a month later the directory still shows whether the team was told. No URL's path, query or user
information is ever written: only its origin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlchaos.experiments.publish.config import PublishConfig, PublishConfigError, WebhookConfig, When
from mlchaos.experiments.publish.http import SendFailed, origin, send
from mlchaos.experiments.publish.pushgateway import push
from mlchaos.experiments.publish.results import Finished, finished_run, finished_suite
from mlchaos.experiments.publish.webhook import body, reason_to_send
from mlchaos.experiments.redaction import MASK, redact_text
from mlchaos.experiments.run_view import Output
from mlchaos.reports.run import SUMMARY_NAME

LOG_NAME = "publish.log"
UNCHANGED = "the verdict and the exit code are unchanged"


@dataclass(frozen=True)
class Attempt:
    """One publishing attempt and how it went."""

    channel: str
    """``webhook`` or ``pushgateway``."""
    ok: bool
    detail: str


def after_run(
    run_dir: Path, config: PublishConfig | None, *, history: Path | None, output: Output
) -> list[Attempt]:
    """Publish the run in ``run_dir`` (a run alone, not one of a suite's) as ``config`` says."""
    return _publish(run_dir, config, lambda: finished_run(run_dir, history), output)


def after_suite(
    suite_dir: Path,
    run_dirs: Sequence[Path],
    config: PublishConfig | None,
    *,
    history: Path | None,
    output: Output,
) -> list[Attempt]:
    """Publish the suite in ``suite_dir`` and its runs, once for the whole suite."""
    return _publish(suite_dir, config, lambda: finished_suite(suite_dir, run_dirs, history), output)


def _publish(
    directory: Path, config: PublishConfig | None, read: Callable[[], Finished], output: Output
) -> list[Attempt]:
    if config is None or (config.webhook is None and config.pushgateway is None):
        return []
    secrets = _secrets(config)
    if not (directory / SUMMARY_NAME).is_file():
        attempts = [Attempt("publish", False, f"nothing published: {directory.name} has no {SUMMARY_NAME}")]
    else:
        try:
            finished = read()
        except Exception as exc:  # a damaged summary or a bug: the run's result stands all the same
            attempts = [Attempt("publish", False, f"could not read the results: {type(exc).__name__}: {exc}")]
        else:
            attempts = []
            if (webhook := config.webhook) is not None:
                attempts.append(_guarded("webhook", lambda: _webhook(finished, webhook)))
            if (pushgateway := config.pushgateway) is not None:
                attempts.append(_guarded("pushgateway", lambda: push(finished, pushgateway)))
    attempts = [Attempt(a.channel, a.ok, _scrub(a.detail, secrets)) for a in attempts]
    _record(directory, attempts, output)
    return attempts


def _webhook(finished: Finished, config: WebhookConfig) -> str:
    reason = reason_to_send(finished, config.when)
    if reason is None:
        return f"not sent: when={config.when.value} and the {finished.kind} {_why_not(finished, config)}"
    url = config.url()
    sent = send(
        "POST",
        url,
        body(finished, reason, config.format),
        {"Content-Type": "application/json"},
        config.timeout,
    )
    return f"sent to {origin(url)} ({config.format.value}, reason: {reason}) — HTTP {sent.status}"


def _why_not(finished: Finished, config: WebhookConfig) -> str:
    if config.when == When.FAILURE:
        return "passed"
    return "did not regress" + (
        "" if any(s.previous_status for s in finished.scenarios) else " (no earlier run)"
    )


def _guarded(channel: str, attempt: Callable[[], str]) -> Attempt:
    try:
        return Attempt(channel, True, attempt())
    except (SendFailed, PublishConfigError) as exc:
        return Attempt(channel, False, f"FAILED: {exc}; {UNCHANGED}")
    except Exception as exc:  # a bug in publishing must not turn a finished run into a crash
        return Attempt(channel, False, f"FAILED ({type(exc).__name__}): {exc}; {UNCHANGED}")


def _secrets(config: PublishConfig) -> list[str]:
    """What must not be written: the webhook's URL, and its path (Slack's secret). Its origin may be shown; a
    Pushgateway URL is not a secret (user information in it is masked by redact_text)."""
    if config.webhook is None:
        return []
    try:
        url = config.webhook.url()
    except PublishConfigError:
        return []
    rest = url.split("://", 1)[-1]
    path = rest.partition("/")[2]
    return sorted({p for p in (url, rest if path else "", path) if len(p) >= 4}, key=len, reverse=True)


def _scrub(text: str, secrets: list[str]) -> str:
    """``text`` without any of ``secrets`` (a second line of defence: messages name origins only)."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    return redact_text(text)


def _record(directory: Path, attempts: list[Attempt], output: Output) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [f"{stamp} {a.channel}: {a.detail}" for a in attempts]
    for attempt in attempts:
        if attempt.ok:
            output.console.print(f"{attempt.channel}: {attempt.detail}", markup=False, soft_wrap=True)
        else:
            output.errors.print(f"{attempt.channel}: {attempt.detail}", markup=False, soft_wrap=True)
    try:
        with (directory / LOG_NAME).open("a", encoding="utf-8") as log:
            log.writelines(line + "\n" for line in lines)
    except OSError as exc:
        output.errors.print(
            f"could not write {directory / LOG_NAME}: {exc.strerror}", markup=False, soft_wrap=True
        )
