"""A run directory as the reports see it: its scenario, its recording, its verdicts and how the run ended.

The reports never import the scenario model, the loader or ``experiments.outcome``: the scenario's faults are
defined by the injectors, and ``mlchaos.reports`` must not reach them (import-linter contract in pyproject). The
experiments layer hands over a :class:`RunReader` — its own ``load_scenario`` / ``load_recording`` /
``compute_verdicts`` — and the reports work on what those return, through :class:`ScenarioLike`.

How a run ended is read from its journal, not from the process that ran it, so ``mlchaos report`` shows the same
status for a run directory long after the run (or one copied off a CI machine).
"""

from __future__ import annotations

import enum
import getpass
import json
import platform
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from mlchaos.experiments.errors import ExitCode, InvalidInput
from mlchaos.experiments.journal import (
    JOURNAL_NAME,
    Entry,
    Event,
    Stop,
    outstanding_faults,
    partial_stop,
    read_journal,
)
from mlchaos.experiments.redaction import MASK as MASK  # re-exported: the reports import it from here
from mlchaos.experiments.redaction import redact_text
from mlchaos.experiments.targets import EmbeddedTarget, ExternalTarget, KubernetesTarget, ladder_of
from mlchaos.experiments.verifiers import resilience_score
from mlchaos.experiments.verifiers.base import (
    OutcomeTable,
    Recording,
    Verdict,
    VerifierSpec,
    empty_probes,
    empty_requests,
)
from mlchaos.experiments.verifiers.steady_state import SteadyState

SCENARIO_NAME = "scenario.yaml"
SUMMARY_NAME = "summary.json"
# MASK (from mlchaos.experiments.redaction): what pydantic shows for a secret, and what the reports show instead
# of any header value they know and any secret in a URL.


class ScenarioLike(Protocol):
    """What the reports read of a scenario (``mlchaos.experiments.scenario.Scenario`` has all of it)."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def target(self) -> EmbeddedTarget | ExternalTarget | KubernetesTarget: ...
    @property
    def verifiers(self) -> Sequence[VerifierSpec]: ...
    @property
    def steady_state(self) -> SteadyState: ...


S = TypeVar("S", bound=ScenarioLike)


@dataclass(frozen=True)
class RunReader(Generic[S]):
    """How to read a run directory; the experiments layer passes its own functions (see the module docstring)."""

    load_scenario: Callable[[Path], S]
    """The scenario in ``RUN_DIR/scenario.yaml``."""
    load_recording: Callable[[Path, S], Recording]
    compute_verdicts: Callable[[Recording, S], list[Verdict]]
    recording_cut: Callable[[Path], Stop | None] = lambda run_dir: None
    """How far the recording of a run killed before it saved it goes (judged up to there, partially)."""


class RunStatus(enum.StrEnum):
    """How a run ended, as summary.json and junit.xml say it; :attr:`exit_code` is what ``mlchaos run`` exits with."""

    PASSED = "passed"
    FAILED = "failed"
    INVALID = "invalid"
    ABORTED = "aborted"
    ROLLBACK_FAILED = "rollback_failed"

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT_CODES[self]


_EXIT_CODES = {
    RunStatus.PASSED: ExitCode.OK,
    RunStatus.FAILED: ExitCode.VERIFIER_FAILED,
    RunStatus.INVALID: ExitCode.INVALID,
    RunStatus.ABORTED: ExitCode.ABORTED,
    RunStatus.ROLLBACK_FAILED: ExitCode.ROLLBACK_FAILED,
}


class RunDirError(InvalidInput):
    """A path that is not a run directory (no scenario.yaml); the message says what was expected."""


@dataclass(frozen=True)
class Environment:
    """Where a run ran: recorded in summary.json at the end of ``mlchaos run``, shown by every later report."""

    mlchaos: str
    python: str
    host: str
    platform: str
    user: str

    @classmethod
    def current(cls) -> Environment:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (containers): not worth failing a report for
            user = "unknown"
        return cls(
            metadata.version("mlchaos"),
            platform.python_version(),
            socket.gethostname(),
            platform.platform(),
            user,
        )

    @classmethod
    def recorded(cls, run_dir: Path) -> Environment | None:
        """The environment summary.json recorded, or ``None`` (no summary, or one this version cannot read)."""
        try:
            recorded = json.loads((run_dir / SUMMARY_NAME).read_text(encoding="utf-8"))["recorded_by"]
            return cls(**{name: str(recorded[name]) for name in cls.__dataclass_fields__})
        except (OSError, ValueError, KeyError, TypeError):
            return None


class Redactor:
    """Replaces every known secret (the target's header values) and every secret in a URL (``?token=…``,
    ``user:password@``: :func:`~mlchaos.experiments.redaction.redact_text`) in text the reports show."""

    def __init__(self, secrets: Sequence[str]) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted({s for s in secrets if s and s != MASK}, key=len, reverse=True)

    @classmethod
    def for_target(cls, target: EmbeddedTarget | ExternalTarget | KubernetesTarget) -> Redactor:
        if isinstance(target, ExternalTarget | KubernetesTarget):
            return cls([value.get_secret_value() for value in target.headers.values()])
        return cls([])

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return redact_text(text)

    def verdict(self, verdict: Verdict) -> Verdict:
        details = {k: self(v) if isinstance(v, str) else v for k, v in verdict.details.items()}
        table = verdict.table
        if table is not None:
            table = OutcomeTable(
                self(table.title),
                tuple(self(c) for c in table.columns),
                tuple(tuple(self(c) if isinstance(c, str) else c for c in row) for row in table.rows),
            )
        return replace(
            verdict,
            table=table,
            name=self(verdict.name),
            target=self(verdict.target),
            explanation=self(verdict.explanation),
            details=details,
            advice=verdict.advice and replace(verdict.advice, text=self(verdict.advice.text)),
        )


@dataclass(frozen=True)
class RunData(Generic[S]):
    """One run, read and judged: everything a report, junit.xml or summary.json shows comes from here."""

    run_dir: Path
    scenario: S
    scenario_text: str
    """RUN_DIR/scenario.yaml as recorded (secrets masked by ``mlchaos run``, and again by :class:`Redactor`)."""
    recording: Recording
    verdicts: list[Verdict]
    """Empty unless the run finished — or was stopped by a guardrail or a signal after its baseline began: then
    they judge what was recorded up to the stop, and :attr:`partial` says so."""
    status: RunStatus
    message: str
    entries: list[Entry]
    redact: Redactor
    recorded_by: Environment | None
    partial: Stop | None = None
    """The stop (reason and time) of a run whose verdicts are partial; ``None`` for a run judged whole or not at
    all."""

    @property
    def score(self) -> float | None:
        return resilience_score(self.verdicts)

    @property
    def started_at(self) -> float | None:
        return self.entries[0].ts if self.entries else None

    @property
    def finished_at(self) -> float | None:
        return self.entries[-1].ts if self.entries else None


def run_status(
    entries: list[Entry], verdicts: list[Verdict] | None, cut: Stop | None = None
) -> tuple[RunStatus, str]:
    """How the run ended according to its journal (and, once it finished or was judged partially, its
    verdicts; ``cut``: a recording that was not saved whole, judged up to where it goes), and why."""
    if not entries:
        return RunStatus.INVALID, "the run never started: no journal (the target was not usable)"
    left = outstanding_faults(entries)
    finished = any(e.event == Event.RUN_FINISHED for e in entries)
    aborted = next((e for e in entries if e.event == Event.ABORTED), None)
    if left:
        ids = ", ".join(f.fault_id for f in left)
        how = "rollback failed" if finished else "the run did not finish"
        return (
            RunStatus.ROLLBACK_FAILED,
            f"{how}: these faults may still be applied: {ids} (mlchaos rollback)",
        )
    if aborted is not None:
        if not finished and not any(e.event == Event.PHASE for e in entries):
            return RunStatus.INVALID, f"did not start: {aborted.detail or 'no reason recorded'}"
        message = f"aborted: {aborted.detail or 'no reason recorded'} — rollback done"
        if verdicts and partial_stop(entries) is not None:
            message += "; " + Stop.verdicts_note(sum(v.passed for v in verdicts), len(verdicts))
        return RunStatus.ABORTED, message
    if not finished:
        message = "the run did not finish (its process was killed?); nothing was left applied"
        if cut is not None and verdicts:
            held = sum(v.passed for v in verdicts)
            message += f"; {cut.reason}; " + Stop.verdicts_note(held, len(verdicts))
        return RunStatus.ABORTED, message
    if verdicts is None:
        raise ValueError("a finished run needs its verdicts")
    failed = [v.name for v in verdicts if not v.passed]
    if failed:
        return RunStatus.FAILED, f"{len(failed)} of {len(verdicts)} verifiers failed: {', '.join(failed)}"
    return RunStatus.PASSED, f"all {len(verdicts)} verifiers held"


def read_run(
    run_dir: Path,
    reader: RunReader[S],
    *,
    scenario: S | None = None,
    verdicts: Sequence[Verdict] | None = None,
    recorded_by: Environment | None = None,
) -> RunData[S]:
    """Read ``run_dir``; recompute its verdicts unless given (``mlchaos run`` passes the ones it just computed).

    ``scenario`` is the one in memory during ``mlchaos run``: it still holds the real header values, so they can be
    masked wherever they turn up (RUN_DIR/scenario.yaml only has them masked already).
    """
    path = run_dir / SCENARIO_NAME
    if not path.is_file():
        raise RunDirError(
            f"{run_dir} is not a run directory: it has no {SCENARIO_NAME} (made by mlchaos run)"
        )
    recorded = reader.load_scenario(path)
    scenario = recorded if scenario is None else scenario
    redact = Redactor.for_target(scenario.target)
    entries = read_journal(run_dir / JOURNAL_NAME)
    if any(e.event == Event.PHASE for e in entries):
        recording = reader.load_recording(run_dir, scenario)
    else:  # never got to its baseline (preflight failed, no target): nothing was measured, and no phase to read
        ts = entries[0].ts if entries else path.stat().st_mtime
        tiers = ladder_of(scenario.target)
        recording = Recording(empty_requests(), empty_probes(), (), (), ts, ts, scenario.steady_state, tiers)
    finished = any(e.event == Event.RUN_FINISHED for e in entries)
    stop = partial_stop(entries)
    aborted = any(e.event == Event.ABORTED for e in entries)
    baseline = any(e.event == Event.PHASE and e.phase == "baseline" for e in entries)
    cut = reader.recording_cut(run_dir) if baseline else None
    # A run stopped by a guardrail or a signal is judged on what it recorded up to the stop (partially); so is
    # a run killed after its baseline began, once rolled back, up to the last request its recording holds.
    judged = not outstanding_faults(entries) and (
        (finished and (not aborted or stop is not None)) or (not finished and cut is not None)
    )
    found: list[Verdict] = []
    if judged:
        found = list(verdicts) if verdicts else reader.compute_verdicts(recording, scenario)
    status, message = run_status(entries, found if judged else None, cut)
    return RunData(
        run_dir=run_dir,
        scenario=scenario,
        scenario_text=redact(path.read_text(encoding="utf-8")),
        recording=recording,
        verdicts=[redact.verdict(v) for v in found],
        status=status,
        message=redact(message),
        entries=entries,
        redact=redact,
        recorded_by=recorded_by or Environment.recorded(run_dir),
        partial=(cut or (stop if aborted else None)) if judged else None,
    )
