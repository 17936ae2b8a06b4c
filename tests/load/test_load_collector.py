"""The orchestrator's side of the pipe, fed from memory: no child needed."""

from __future__ import annotations

import io
from typing import Any

from mlchaos.experiments.load import wire
from mlchaos.experiments.load.collector import RecordCollector
from mlchaos.experiments.records import RequestRecord

ROW: list[Any] = [
    2.0,
    1.5,
    200,
    "primary",
    0.9,
    "legit",
    None,
    "legit",
    "corrupt:nan",
    "f/1",
    None,
    0.2,
    True,
    False,
]


def feed(collector: RecordCollector, stdout: bytes, stderr: bytes = b"") -> None:
    collector.attach(io.BytesIO(stdout), io.BytesIO(stderr))
    assert collector.join(timeout_s=5)


def test_lines_become_records_counts_and_shape() -> None:
    batches: list[list[RequestRecord]] = []
    collector = RecordCollector(on_batch=batches.append)
    stdout = (
        wire.encode_started(1.0)
        + wire.encode_batch(1.2, 3, [ROW, ROW])
        + wire.encode_batch(1.4, 3, [])
        + wire.encode_done(2)
    )
    feed(collector, stdout, b"WARNING locust: something\n")
    assert collector.started.is_set() and collector.started_at == 1.0
    assert collector.records == [RequestRecord(*ROW)] * 2
    assert batches == [[RequestRecord(*ROW)] * 2]  # empty batches are not passed on
    assert collector.user_counts == [(1.2, 3), (1.4, 3)]
    assert collector.sent == 2 and collector.protocol_error is None
    assert collector.stderr_tail == "WARNING locust: something"


def test_bad_lines_are_reported_and_do_not_stop_the_reader() -> None:
    collector = RecordCollector()
    stdout = (
        b"print() output\n" + b'{"t": 1, "users": 1, "records": [[1, 2]]}\n' + wire.encode_batch(2, 1, [ROW])
    )
    feed(collector, stdout)
    assert collector.record_count == 1
    assert collector.protocol_error is not None and "not enough values" in collector.protocol_error


def test_a_failing_callback_is_kept_and_not_called_again() -> None:
    calls: list[int] = []

    def explode(batch: list[RequestRecord]) -> None:
        calls.append(len(batch))
        raise RuntimeError("boom")

    collector = RecordCollector(on_batch=explode)
    feed(collector, wire.encode_batch(1, 1, [ROW]) + wire.encode_batch(2, 1, [ROW]))
    assert calls == [1]
    assert isinstance(collector.callback_error, RuntimeError)
    assert collector.record_count == 2
