from __future__ import annotations

from pathlib import Path

import pytest

from mlchaos.experiments.journal import (
    Event,
    Journal,
    StackRecord,
    outstanding_faults,
    read_journal,
    stacks_started,
)


def test_entries_are_on_disk_as_soon_as_append_returns(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append(Event.INJECT_INTENT, fault_id="a", kind="latency", undo={"proxy": "fs"})
    # Read through a separate handle while the journal is still open: nothing may sit in a buffer.
    assert [e.event for e in read_journal(tmp_path / "journal.jsonl")] == [Event.INJECT_INTENT]
    journal.close()


def test_outstanding_faults_are_those_without_a_successful_revert(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    for fault in ("a", "b", "c"):
        journal.append(Event.INJECT_INTENT, fault_id=fault, kind="latency", undo={"n": fault})
    journal.append(Event.INJECTED, fault_id="a", kind="latency")
    journal.append(Event.REVERT_INTENT, fault_id="a", kind="latency")
    journal.append(Event.REVERTED, fault_id="a", kind="latency")
    journal.append(Event.INJECT_FAILED, fault_id="b", kind="latency", detail="boom")
    journal.append(Event.REVERT_INTENT, fault_id="c", kind="latency")
    journal.append(Event.REVERT_FAILED, fault_id="c", kind="latency", detail="unreachable")
    journal.close()
    pending = outstanding_faults(read_journal(journal.path))
    # b failed half-way (it may be partly applied) and c's revert failed: both must still be undone.
    assert [(p.fault_id, p.undo) for p in pending] == [("b", {"n": "b"}), ("c", {"n": "c"})]


def test_a_line_cut_short_by_a_kill_is_ignored_but_other_damage_is_not(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append(Event.RUN_STARTED, detail="x")
    journal.append(
        Event.STACK_STARTED, stack=StackRecord(supervisor_url="u", supervisord_pid=1, workdir="/w")
    )
    journal.close()
    path = tmp_path / "journal.jsonl"
    with path.open("a") as handle:
        handle.write('{"seq": 3, "ts": 1.0, "event": "inj')
    assert len(read_journal(path)) == 2
    assert stacks_started(read_journal(path))[0].workdir == "/w"
    path.write_text("garbage\n" + path.read_text())
    with pytest.raises(ValueError, match=r"journal\.jsonl:1: not a journal entry"):
        read_journal(path)


def test_sequence_numbers_continue_when_a_journal_is_reopened(tmp_path: Path) -> None:
    first = Journal(tmp_path)
    first.append(Event.RUN_STARTED)
    first.close()
    second = Journal(tmp_path)
    assert second.append(Event.RUN_FINISHED).seq == 2
    second.close()
