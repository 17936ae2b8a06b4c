"""How a run ends: its exit code, verdicts and one-line message, from what happened to it.

The order matters: a rollback that failed outweighs everything (exit 4, faults may still be applied); a run that
stopped early is judged only when a guardrail or a signal stopped it after its baseline began and its recording
was saved (partial verdicts, exit 3 all the same); a run that went to the end is judged in full.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlchaos.experiments.errors import ExitCode
from mlchaos.experiments.journal import Stop
from mlchaos.experiments.rollback import RollbackResult
from mlchaos.experiments.verifiers.base import Verdict


@dataclass
class RunOutcome:
    """How one run ended: its exit code, verdicts (none unless judged) and a one-line message."""

    run_dir: Path
    scenario: str
    exit_code: ExitCode
    verdicts: list[Verdict]
    message: str
    rollback: RollbackResult | None = None
    partial: Stop | None = None
    """Set when a guardrail or a signal stopped the run after its baseline began: ``verdicts`` judge only what
    was recorded up to the stop (the exit code stays ABORTED)."""
    report: Path | None = None
    """The run's report.html (junit.xml and summary.json beside it), once written."""


def run_outcome(
    run_dir: Path,
    name: str,
    aborted: str | None,
    rollback: RollbackResult,
    unsaved: str | None,
    *,
    partial_stop: Callable[[], Stop | None],
    judge: Callable[[Stop | None], list[Verdict]],
) -> RunOutcome:
    """How a run ended, once every fault was reverted (or not): ``aborted`` says why it stopped early, ``unsaved``
    what of its recording was lost. ``partial_stop`` reads whether a guardrail or a signal stopped it after its
    baseline began; ``judge`` computes and saves the verdicts (up to that stop)."""
    if not rollback.ok:
        left = "; ".join(f"{fid}: {why}" for fid, why in rollback.failed.items())
        return RunOutcome(
            run_dir,
            name,
            ExitCode.ROLLBACK_FAILED,
            [],
            f"rollback failed, these faults may still be applied: {left}",
            rollback,
        )
    if aborted is not None or unsaved is not None:
        why = "; ".join(part for part in (aborted, unsaved) if part)
        # Stopped by a guardrail or a signal after the baseline began, recording saved: judge what it has.
        stop = None if unsaved is not None else partial_stop()
        if stop is None:
            message = f"{why} — rollback done"
            return RunOutcome(run_dir, name, ExitCode.ABORTED, [], message, rollback)
        try:
            verdicts = judge(stop)
        except OSError as exc:
            message = f"{why} — rollback done; could not save the partial verdicts: {exc.strerror or exc}"
            return RunOutcome(run_dir, name, ExitCode.ABORTED, [], message, rollback)
        note = Stop.verdicts_note(sum(v.passed for v in verdicts), len(verdicts))
        message = f"{why} — rollback done; {note}"
        return RunOutcome(run_dir, name, ExitCode.ABORTED, verdicts, message, rollback, stop)
    try:
        verdicts = judge(None)
    except OSError as exc:
        message = f"could not save the verdicts in {run_dir}: {exc.strerror or exc} — rollback done"
        return RunOutcome(run_dir, name, ExitCode.ABORTED, [], message, rollback)
    failed = [v for v in verdicts if not v.passed]
    if failed:
        names = ", ".join(f"{v.name} = {_measured(v)}" for v in failed)
        return RunOutcome(run_dir, name, ExitCode.VERIFIER_FAILED, verdicts, f"failed: {names}", rollback)
    return RunOutcome(run_dir, name, ExitCode.OK, verdicts, "all verifiers held", rollback)


def _measured(verdict: Verdict) -> str:
    if verdict.measured is None:
        return f"nothing measured (target {verdict.target})"
    return f"{verdict.measured:.3g}{'' if verdict.unit in ('%',) else ' '}{verdict.unit} (target {verdict.target})"
