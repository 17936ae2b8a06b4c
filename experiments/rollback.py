"""Undo whatever a run left applied, reading only its journal.

The engine ends every run through :func:`revert_outstanding` on its own journal, so the path ``mlchaos rollback``
takes after a SIGKILL is the same path every normal run takes — it is exercised all the time, not just in a crisis.
A suite takes it too, before it starts, for every run under its output folder that died without finishing
(:func:`recover_unfinished`): an unattended monthly run killed with its node must not leave its faults applied
until somebody notices.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from mlchaos.experiments import runlock
from mlchaos.experiments.journal import (
    JOURNAL_NAME,
    Entry,
    Event,
    Journal,
    StackRecord,
    outstanding_faults,
    read_journal,
    stacks_started,
)
from mlchaos.injectors import INJECTORS, InjectorError
from mlchaos.staging.stack import stop_orphaned_stack

ATTEMPTS = 3


@dataclass
class RollbackResult:
    reverted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    """Fault id -> why its revert failed (the fault may still be applied)."""
    stacks_stopped: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    """Faults applied to an embedded stack that has since been torn down: nothing is left to revert."""
    journal_errors: list[str] = field(default_factory=list)
    """Entries that could not be written (full or read-only disk); the reverts were done all the same."""

    @property
    def ok(self) -> bool:
        return not self.failed


def revert_outstanding(
    journal: Journal, *, only: str | None = None, attempts: int = ATTEMPTS, pause_s: float = 0.5
) -> RollbackResult:
    """Revert every fault the journal shows as applied and not reverted (or just ``only``), journalling each step.

    Each revert is retried a few times: a backend restarting under us (supervisord restarting toxiproxy) is the
    kind of thing that heals in a second. Reverts are idempotent, so retrying is always safe.
    """
    result = RollbackResult()
    for fault in reversed(outstanding_faults(read_journal(journal.path))):
        if only is not None and fault.fault_id != only:
            continue
        injector = INJECTORS.get(fault.kind)
        if injector is None:
            result.failed[fault.fault_id] = f"unknown fault kind '{fault.kind}' in the journal"
            continue
        undo = injector.undo.model_validate(fault.undo)
        # Unlike an injection, a revert goes ahead even if the journal cannot say so first: the undo data is
        # already on disk from the intent, and the revert is what makes the target safe again.
        _journal(result, journal, Event.REVERT_INTENT, fault_id=fault.fault_id, kind=fault.kind)
        error = None
        for attempt in range(attempts):
            try:
                injector.revert(undo)
            except InjectorError as exc:
                error = str(exc)
                if attempt + 1 < attempts:
                    time.sleep(pause_s)
                continue
            error = None
            break
        if error is None:
            _journal(result, journal, Event.REVERTED, fault_id=fault.fault_id, kind=fault.kind)
            result.reverted.append(fault.fault_id)
        else:
            _journal(
                result, journal, Event.REVERT_FAILED, fault_id=fault.fault_id, kind=fault.kind, detail=error
            )
            result.failed[fault.fault_id] = error
    return result


def _journal(result: RollbackResult, journal: Journal, event: Event, **fields: str) -> None:
    if (error := journal.try_append(event, **fields)) is not None and error not in result.journal_errors:
        result.journal_errors.append(error)


def stack_alive(stack: StackRecord) -> bool:
    """Whether the supervisord the journal names still runs — and is ours, not a recycled pid."""
    try:
        process = psutil.Process(stack.supervisord_pid)
        return any(stack.workdir in part for part in process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def rollback_run(run_dir: Path) -> RollbackResult:
    """``mlchaos rollback RUN_DIR``: revert the run's outstanding faults, then stop an embedded stack it left."""
    if not (run_dir / JOURNAL_NAME).exists():
        raise FileNotFoundError(f"{run_dir} has no {JOURNAL_NAME}: not an mlchaos run directory")
    journal = Journal(run_dir)
    try:
        stacks = stacks_started(read_journal(journal.path))
        if stacks and not any(stack_alive(s) or Path(s.workdir).exists() for s in stacks):
            return _stack_gone(journal)
        result = revert_outstanding(journal)
        for stack in stacks:
            # A dead supervisord may leave its programs running, orphaned: they are found by their workdir.
            if stack_alive(stack) or Path(stack.workdir).exists():
                stop_orphaned_stack(stack.supervisor_url, stack.supervisord_pid, Path(stack.workdir))
                result.stacks_stopped.append(stack.workdir)
        return result
    finally:
        journal.close()


def _stack_gone(journal: Journal) -> RollbackResult:
    """The run's embedded stack — its target — was torn down: whatever fault it had applied went with it."""
    result = RollbackResult()
    for fault in outstanding_faults(read_journal(journal.path)):
        detail = "the embedded stack it was applied to no longer exists"
        _journal(result, journal, Event.REVERTED, fault_id=fault.fault_id, kind=fault.kind, detail=detail)
        result.gone.append(fault.fault_id)
    return result


@dataclass(frozen=True)
class Recovered:
    """An unfinished run found under a suite's output folder, and what rolling it back did."""

    run_dir: Path
    result: RollbackResult | None
    error: str | None = None
    """Why it could not be rolled back at all (an unreadable journal); ``mlchaos rollback`` is the way out."""

    def describe(self) -> str:
        if self.result is None:
            return f"unfinished run {self.run_dir}: could not roll it back: {self.error}"
        done = [f"reverted {fault}" for fault in self.result.reverted]
        done += [f"{fault} gone with its embedded stack" for fault in self.result.gone]
        done += [f"stopped embedded stack {workdir}" for workdir in self.result.stacks_stopped]
        done += [f"COULD NOT REVERT {fault}: {why}" for fault, why in self.result.failed.items()]
        return f"unfinished run {self.run_dir} rolled back: {'; '.join(done)}"


def recover_unfinished(out: Path) -> list[Recovered]:
    """Roll back every run under ``out`` (``out/RUN`` and, for suites, ``out/SUITE/RUN``) that died unfinished —
    its journal has no end, or shows faults still applied, and no live process holds its lock — and return those
    that had something to undo. A run rolled back before (by hand, or by an earlier suite) has nothing left and is
    not reported again."""
    recovered = []
    for run_dir in _unfinished(out):
        try:
            result = rollback_run(run_dir)
        except (OSError, ValueError) as exc:  # ValueError: a journal line that is not an entry
            recovered.append(Recovered(run_dir, None, str(exc)))
            continue
        if result.reverted or result.failed or result.stacks_stopped or result.gone:
            recovered.append(Recovered(run_dir, result))
    return recovered


def _unfinished(out: Path) -> list[Path]:
    journals = sorted([*out.glob(f"*/{JOURNAL_NAME}"), *out.glob(f"*/*/{JOURNAL_NAME}")])
    found = []
    for journal in journals:
        try:
            entries = read_journal(journal)
        except (OSError, ValueError):
            found.append(journal.parent)  # said so by recover_unfinished, which reads it again
            continue
        if _ended(entries) or runlock.running_holder(journal.parent) is not None:
            continue
        found.append(journal.parent)
    return found


def _ended(entries: list[Entry]) -> bool:
    """A run ends with ``run_finished`` after its rollback, or ``aborted`` before it applied anything; a run
    aborted while it reverted (and killed before it finished) still has faults outstanding."""
    ends = any(e.event in (Event.RUN_FINISHED, Event.ABORTED) for e in entries)
    return ends and not outstanding_faults(entries)
