"""The run journal: an append-only JSONL file, written and fsynced *before* each action takes effect.

It is the only thing ``mlchaos rollback RUN_DIR`` reads: every fault's undo data is journalled with its intent, so
a run killed with SIGKILL between "about to inject" and "injected" is still undone. Entries are also the source of
truth for when phases and faults really started and ended (verifiers read those times from here).
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from mlchaos.experiments.redaction import redact_text

JOURNAL_NAME = "journal.jsonl"


class Event(enum.StrEnum):
    RUN_STARTED = "run_started"
    STACK_STARTED = "stack_started"
    PHASE = "phase"
    INJECT_INTENT = "inject_intent"
    INJECTED = "injected"
    FAULT_ACTION = "fault_action"
    """What a fault is about to do, when it picks its targets as it acts (e.g. the pods it deletes next)."""
    INJECT_FAILED = "inject_failed"
    REVERT_INTENT = "revert_intent"
    REVERTED = "reverted"
    REVERT_FAILED = "revert_failed"
    INPUTS_PREPARED = "inputs_prepared"
    """An input fault made its requests against the target before the load (an attack): ``detail`` says how."""
    GUARDRAIL_TRIPPED = "guardrail_tripped"
    INTERRUPTED = "interrupted"
    """SIGINT or SIGTERM stopped the run (``detail``: which). With a tripped guardrail, the one kind of stop after
    which a run still judges what it recorded (:func:`partial_stop`)."""
    ABORTED = "aborted"
    RUN_FINISHED = "run_finished"


class StackRecord(BaseModel):
    """What tearing down an embedded stack needs, should its owner die."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    supervisor_url: str
    supervisord_pid: int
    workdir: str


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int
    ts: float
    event: Event
    fault_id: str | None = None
    kind: str | None = None
    heals_itself: bool | None = None
    undo: dict[str, Any] | None = None
    """The injector's Undo model, serialised; validated again by that injector's model on rollback."""
    phase: str | None = None
    stack: StackRecord | None = None
    detail: str | None = None
    cluster: str | None = None
    """With ``run_started`` of a Kubernetes target: its declared name and what the cluster says it is
    (:func:`~mlchaos.experiments.kubernetes.client.cluster_identity`)."""


Listener = Callable[[Entry], None]
"""Told of each entry once it is on disk, in the thread that wrote it and under that journal's lock: it must be
quick and must not raise (one that raises is logged and dropped: the entry is written, and the action it records
goes on)."""

_listeners: dict[Path, tuple[Listener, ...]] = {}
_listeners_lock = threading.Lock()


@contextlib.contextmanager
def listening(run_dir: Path, listener: Listener) -> Iterator[None]:
    """While inside, ``listener`` is told of every entry appended to ``run_dir``'s journal by any
    :class:`Journal` of this process (the engine's, the run's, a rollback's), in the order written: what
    publishes a run as it goes (:mod:`mlchaos.experiments.publish.telemetry`) takes its times from here, never its
    own clock."""
    path = run_dir / JOURNAL_NAME
    with _listeners_lock:
        _listeners[path] = (*_listeners.get(path, ()), listener)
    try:
        yield
    finally:
        _drop(path, listener)


def _drop(path: Path, listener: Listener) -> None:
    with _listeners_lock:
        kept = tuple(other for other in _listeners.get(path, ()) if other is not listener)
        if kept:
            _listeners[path] = kept
        else:
            _listeners.pop(path, None)


def _tell(path: Path, entry: Entry) -> None:
    for listener in _listeners.get(path, ()):
        try:
            listener(entry)
        except Exception:  # a listener's bug must not turn a written entry into a failed action
            logging.getLogger(__name__).exception("journal listener %r failed; it is dropped", listener)
            _drop(path, listener)


class Journal:
    """Appends entries to ``RUN_DIR/journal.jsonl``; safe to call from several threads."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / JOURNAL_NAME
        self._file = self.path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._seq = len(read_journal(self.path))

    def append(self, event: Event, **fields: Any) -> Entry:
        with self._lock:
            self._seq += 1
            if isinstance(fields.get("detail"), str):  # free text, often an error quoting a URL; undo data is
                fields["detail"] = redact_text(fields["detail"])  # kept whole: a rollback needs it as it was
            entry = Entry(seq=self._seq, ts=time.time(), event=event, **fields)
            self._file.write(entry.model_dump_json(exclude_none=True) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())
            _tell(self.path, entry)
            return entry

    def try_append(self, event: Event, **fields: Any) -> str | None:
        """Append, or say why it could not be (a full or read-only disk). For the steps of a rollback, which
        must go on without their entries: an unjournalled revert is at worst redone, harmlessly, by
        ``mlchaos rollback``."""
        try:
            self.append(event, **fields)
        except OSError as exc:
            return f"could not write {self.path}: {exc.strerror or exc}"
        return None

    def close(self) -> None:
        # Every entry was flushed and fsynced when appended: a failing close loses nothing.
        with self._lock, contextlib.suppress(OSError):
            self._file.close()


def read_journal(path: Path) -> list[Entry]:
    """All complete entries; a last line cut short by a kill mid-write is ignored, any other bad line is not."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    entries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entries.append(Entry.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            if number == len(lines):
                break
            raise ValueError(f"{path}:{number}: not a journal entry: {exc}") from exc
    return entries


@dataclass(frozen=True)
class Outstanding:
    """A fault whose revert the journal does not show as done."""

    fault_id: str
    kind: str
    undo: dict[str, Any]


def outstanding_faults(entries: list[Entry]) -> list[Outstanding]:
    """Faults with an inject intent and no successful revert after it, in the order they were applied."""
    pending: dict[str, Outstanding] = {}
    for entry in entries:
        if entry.event == Event.INJECT_INTENT and entry.fault_id and entry.kind and entry.undo is not None:
            pending[entry.fault_id] = Outstanding(entry.fault_id, entry.kind, entry.undo)
        elif entry.event == Event.REVERTED and entry.fault_id:
            pending.pop(entry.fault_id, None)
    return list(pending.values())


@dataclass(frozen=True)
class Stop:
    """A run stopped early on purpose — by a guardrail or a signal — after its baseline began: its verdicts judge
    what it recorded up to ``at`` (epoch seconds), and are marked partial."""

    reason: str
    """The journal's word for it: ``guardrail tripped: error_rate > 50% for 2s (now 0.9)``, ``interrupted by
    SIGTERM``."""
    at: float
    by: str
    """What stopped it, for "stopped by …": ``guardrail error_rate > 50% for 2s (now 0.9)``, ``SIGTERM``."""

    @staticmethod
    def verdicts_note(held: int, total: int) -> str:
        """How a run's message says its verdicts are partial (the same in the CLI and in every report)."""
        return f"verdicts are partial, on what was recorded up to the stop: {held} of {total} held"


def partial_stop(entries: list[Entry]) -> Stop | None:
    """The stop whose run is judged partially, or ``None``: no stop, a stop before the baseline began (nothing
    to judge), or a run that ended any other way. A run that failed otherwise (a fault that could not be
    injected, the load generator dying, an unexpected error) is not judged at all: what it recorded is not what
    the scenario meant to measure, and a bug's data proves nothing."""
    baseline = False
    for entry in entries:
        baseline |= entry.event == Event.PHASE and entry.phase == "baseline"
        if entry.event in (Event.GUARDRAIL_TRIPPED, Event.INTERRUPTED):
            if not baseline:
                return None
            reason = entry.detail or entry.event.value
            if entry.event == Event.GUARDRAIL_TRIPPED:
                by = "guardrail " + reason.removeprefix("guardrail tripped: ")
            else:
                by = reason.removeprefix("interrupted by ")
            return Stop(reason, entry.ts, by)
    return None


def stacks_started(entries: list[Entry]) -> list[StackRecord]:
    return [e.stack for e in entries if e.event == Event.STACK_STARTED and e.stack is not None]
