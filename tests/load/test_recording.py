"""The recording on disk: batches readable as soon as they are written, up to a torn last write, and a disk that
fails is an error, never a shorter run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from mlchaos.experiments.load import recording as rec
from mlchaos.experiments.load.recording import (
    RecordingWriter,
    finish_recording,
    read_stream,
    rows_batch,
    stream_table,
)
from mlchaos.experiments.load.store import read_requests_stream
from mlchaos.experiments.records import REQUEST_SCHEMA


def row(start: float, tier: str | None = "primary") -> list[Any]:
    return [start, 3.5, 200, tier, 0.9, "legit", None, None, None, None, None, None, None, None]


def test_each_batch_is_readable_once_written_and_a_torn_tail_is_where_reading_stops(tmp_path: Path) -> None:
    path = tmp_path / "requests.arrows"
    writer = RecordingWriter(path)
    writer.put(rows_batch([row(2.0), row(1.0)]))
    writer.put(rows_batch([row(3.0, None)]))
    assert writer.sync(timeout_s=5)
    assert stream_table(path)["start"].to_pylist() == [2.0, 1.0, 3.0]  # the writer still open, as in a run
    writer.close()
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) - 8])  # a kill before the end-of-stream marker (8 bytes)
    assert sum(b.num_rows for b in read_stream(path)) == 3
    path.write_bytes(whole[: len(whole) - 120])  # ... or of the last batch
    assert [b.num_rows for b in read_stream(path)] == [2]
    frame = read_requests_stream(path)
    assert frame["start"].tolist() == [1.0, 2.0]  # sorted by start, as verifiers read it
    path.write_bytes(b"")
    assert stream_table(path).num_rows == 0  # killed before anything: no rows, no error


def test_a_disk_that_refuses_the_rows_is_an_error_with_the_rows_counted_lost() -> None:
    writer = RecordingWriter(Path("/dev/full"))  # every write fails: No space left on device
    for start in range(3):
        writer.put(rows_batch([row(float(start))] * 100))
    writer.close()
    assert writer.error is not None and "No space left on device" in writer.error
    assert writer.written == 0 and writer.lost == 300


def test_rows_of_the_wrong_shape_are_refused() -> None:
    with pytest.raises(ValueError, match="has 2 fields, not 14"):
        rows_batch([[1.0, 2.0]])
    with pytest.raises(ValueError, match="no start"):
        rows_batch([[None, *row(1.0)[1:]]])
    with pytest.raises(ValueError, match="start is not a double"):
        rows_batch([["soon", *row(1.0)[1:]]])
    with pytest.raises(ValueError, match="latency_ms is not a double"):
        rows_batch([[1.0, {"ms": 3}, *row(1.0)[2:]]])


def test_the_end_of_a_run_converts_the_stream_row_group_by_row_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rec, "ROW_GROUP_ROWS", 4)  # a handful of rows show the grouping
    stream, target = tmp_path / "requests.arrows", tmp_path / "requests.parquet"
    writer = RecordingWriter(stream)
    for start in range(10):
        writer.put(rows_batch([row(float(start))]))
    writer.close()
    finish_recording(stream, target)
    assert not stream.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["requests.parquet"]
    source = pq.ParquetFile(target)
    assert source.schema_arrow.remove_metadata() == REQUEST_SCHEMA
    assert source.metadata.num_row_groups == 3 and source.metadata.num_rows == 10
    finish_recording(tmp_path / "never-started.arrows", target)  # no load, no stream: an empty file
    assert pq.read_table(target).num_rows == 0
