"""``journal.listening``: what publishes a run learns of each journal entry once it is on disk, from every journal
of that run in this process, in order; and a listener that breaks never turns a written entry into a failed
action."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlchaos.experiments.journal import Entry, Event, Journal, listening, read_journal


def test_a_listener_hears_every_journal_of_its_run_in_order_and_only_while_listening(tmp_path: Path) -> None:
    heard: list[Entry] = []
    other = tmp_path / "other-run"
    other.mkdir()
    engine, runner, elsewhere = Journal(tmp_path), Journal(tmp_path), Journal(other)
    with listening(tmp_path, heard.append):
        runner.append(Event.STACK_STARTED, detail="stack")
        engine.append(Event.RUN_STARTED)
        elsewhere.append(Event.RUN_STARTED)  # another run's journal: not this listener's
        engine.append(Event.PHASE, phase="baseline")
    engine.append(Event.RUN_FINISHED)
    for journal in (engine, runner, elsewhere):
        journal.close()

    written = read_journal(tmp_path / "journal.jsonl")
    assert heard == written[:3]  # the entries as written (seq, ts), none after leaving


def test_a_listener_that_raises_is_dropped_and_the_entry_stands(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[Event] = []

    def broken(entry: Entry) -> None:
        calls.append(entry.event)
        raise RuntimeError("a bug in a publisher")

    journal = Journal(tmp_path)
    with listening(tmp_path, broken):
        first = journal.append(Event.RUN_STARTED)
        journal.append(Event.PHASE, phase="baseline")
    journal.close()

    assert first.seq == 1 and [e.event for e in read_journal(journal.path)] == [
        Event.RUN_STARTED,
        Event.PHASE,
    ]
    assert calls == [Event.RUN_STARTED]  # dropped after its first failure
    assert "journal listener" in caplog.text and "a bug in a publisher" in caplog.text
