"""The orchestrator's side of the pipe, fed from memory: no child needed."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pyarrow as pa

from mlchaos.experiments.load import wire
from mlchaos.experiments.load.collector import RecordCollector
from mlchaos.experiments.load.recording import RecordingWriter, stream_table
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


def test_lines_become_recorded_rows_counts_and_shape(tmp_path: Path) -> None:
    batches: list[pa.RecordBatch] = []
    writer = RecordingWriter(tmp_path / "requests.arrows")
    collector = RecordCollector(writer, on_batch=batches.append)
    stdout = (
        wire.encode_started(1.0)
        + wire.encode_batch(1.2, 3, [ROW, ROW])
        + wire.encode_batch(1.4, 3, [])
        + wire.encode_done(2)
    )
    feed(collector, stdout, b"WARNING locust: something\n")
    assert collector.started.is_set() and collector.started_at == 1.0
    writer.close()
    recorded = stream_table(writer.path).to_pylist()
    assert [RequestRecord(**row) for row in recorded] == [RequestRecord(*ROW)] * 2
    assert [batch.to_pylist() for batch in batches] == [recorded]  # empty batches are not passed on
    assert collector.record_count == writer.written == 2
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
    assert collector.protocol_error is not None and "has 2 fields, not 14" in collector.protocol_error


def test_a_failing_callback_is_kept_and_not_called_again() -> None:
    calls: list[int] = []

    def explode(batch: pa.RecordBatch) -> None:
        calls.append(batch.num_rows)
        raise RuntimeError("boom")

    collector = RecordCollector(on_batch=explode)
    feed(collector, wire.encode_batch(1, 1, [ROW]) + wire.encode_batch(2, 1, [ROW]))
    assert calls == [1]
    assert isinstance(collector.callback_error, RuntimeError)
    assert collector.record_count == 2
