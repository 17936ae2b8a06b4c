"""Undo whatever a run left applied, reading only its journal.

The engine ends every run through :func:`revert_outstanding` on its own journal, so the path ``mlchaos rollback``
takes after a SIGKILL is the same path every normal run takes — it is exercised all the time, not just in a crisis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from mlchaos.experiments.journal import (
    JOURNAL_NAME,
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
        journal.append(Event.REVERT_INTENT, fault_id=fault.fault_id, kind=fault.kind)
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
            journal.append(Event.REVERTED, fault_id=fault.fault_id, kind=fault.kind)
            result.reverted.append(fault.fault_id)
        else:
            journal.append(Event.REVERT_FAILED, fault_id=fault.fault_id, kind=fault.kind, detail=error)
            result.failed[fault.fault_id] = error
    return result


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
        result = revert_outstanding(journal)
        for stack in stacks_started(read_journal(journal.path)):
            if stack_alive(stack):
                stop_orphaned_stack(stack.supervisor_url, stack.supervisord_pid, Path(stack.workdir))
                result.stacks_stopped.append(stack.workdir)
        return result
    finally:
        journal.close()
