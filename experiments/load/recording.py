"""The run's recording on disk while the load runs: ``requests.arrows``, an Arrow IPC stream written batch by batch.

Each batch of rows the load child sends becomes one record batch, appended by a writer thread and flushed at once
(into the page cache, so a SIGKILLed ``mlchaos`` loses nothing already written), and ``fsync``-ed every
:data:`SYNC_INTERVAL_S` (so a lost node loses at most that much). At the end of the run the stream is converted,
row group by row group, into ``requests.parquet`` (:func:`finish_recording`), which is what verifiers read; a run
killed before that leaves the stream, which :func:`read_stream` reads up to its last complete batch.

Why an IPC stream and not Parquet part files: a stream is one append-only file whose every message is
self-delimiting, so a torn last write is simply where reading stops; Parquet needs a footer per file, so each
flush would be a file of its own (hundreds per hour) and a tiny row group each, slow to read back. Batches are
zstd-compressed, about as small as Parquet for these columns.

Nothing here holds rows: the parent's memory does not grow with the run's length (bench/recording_memory.py).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mlchaos.experiments.errors import LoadFailure
from mlchaos.experiments.records import REQUEST_SCHEMA

STREAM_NAME = "requests.arrows"
SYNC_INTERVAL_S = 5.0
"""How often written batches are forced to disk: what a lost node (not just a killed process) may lose."""
MAX_QUEUED_BATCHES = 512
"""Batches waiting for the disk before the pipe reader waits too (then the load child blocks on its stdout):
about 100 s of load at the default 0.2 s flush interval — a disk that far behind is one that has stalled."""
ROW_GROUP_ROWS = 256 * 1024
"""Rows per Parquet row group in requests.parquet: what converting the stream holds in memory at once."""
_WIDTH = len(REQUEST_SCHEMA)
_OPTIONS = pa.ipc.IpcWriteOptions(compression="zstd")


class RecordingFailed(OSError, LoadFailure):
    """The recording could not be created (read-only disk, a path that is not a file): the load cannot start."""


def rows_batch(rows: Sequence[Sequence[Any]]) -> pa.RecordBatch:
    """Wire rows (:data:`~mlchaos.experiments.load.wire.COLUMNS` order) as a record batch of ``REQUEST_SCHEMA``,
    built column by column. ``ValueError``/``TypeError`` for a row of the wrong length or a value of the wrong
    type: the line that carried it is not what the load child writes."""
    for row in rows:
        if not isinstance(row, list | tuple) or len(row) != _WIDTH:
            raise ValueError(
                f"a row has {len(row) if isinstance(row, list | tuple) else 'no'} fields, not {_WIDTH}"
            )
    columns = list(zip(*rows, strict=True)) if rows else [()] * _WIDTH
    arrays = []
    for values, field in zip(columns, REQUEST_SCHEMA, strict=True):
        try:
            array = pa.array(values, type=field.type)
        except pa.ArrowException as exc:  # invalid, type, not implemented: whatever Arrow says, a bad row
            raise ValueError(f"a row's {field.name} is not a {field.type}: {exc}") from exc
        if not field.nullable and array.null_count:
            raise ValueError(f"a row has no {field.name}")
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=REQUEST_SCHEMA)


class RecordingWriter:
    """Appends record batches to ``path`` from a thread of its own, so whoever calls :meth:`put` (the pipe
    reader) never waits on the disk unless :data:`MAX_QUEUED_BATCHES` are already waiting.

    A write that fails stops the writing: :attr:`error` says why, and the rows put after it are counted in
    :attr:`lost` — the run must treat that as a failure, never as a shorter run.
    """

    def __init__(self, path: Path, *, sync_interval_s: float = SYNC_INTERVAL_S) -> None:
        self.path = path
        self._sync_interval_s = sync_interval_s
        self._queue: queue.Queue[pa.RecordBatch | None] = queue.Queue(MAX_QUEUED_BATCHES)
        self.error: str | None = None
        self.written = 0
        """Rows on disk (flushed) so far."""
        self.lost = 0
        """Rows that arrived after a write failed, and so were not written."""
        try:  # 0600, no symlink followed: the rows may quote what the service answered
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise RecordingFailed(exc.errno, f"cannot create the recording {path}: {exc.strerror}") from exc
        self._file = os.fdopen(
            fd, "wb", buffering=0
        )  # unbuffered: every batch reaches the OS as it is written
        self._writer = pa.ipc.new_stream(self._file, REQUEST_SCHEMA, options=_OPTIONS)
        self._thread = threading.Thread(target=self._run, name="mlchaos-recording", daemon=True)
        self._thread.start()

    def put(self, batch: pa.RecordBatch) -> None:
        if self.error is not None:
            self.lost += batch.num_rows
            return
        self._queue.put(batch)

    def sync(self, timeout_s: float = 5.0) -> bool:
        """Wait until every batch put so far is written (at most ``timeout_s``); whether it was."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and self.error is None and time.monotonic() < deadline:
            time.sleep(0.005)
        return not self._queue.unfinished_tasks

    @property
    def closed(self) -> bool:
        """Whether the writer thread has ended (everything put before :meth:`close` was written, or failed)."""
        return not self._thread.is_alive()

    def close(self, timeout_s: float = 30.0) -> None:
        """Write what is queued, end the stream, sync and close the file. Idempotent."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout_s)
            if self._thread.is_alive() and self.error is None:
                self.error = f"the disk took more than {timeout_s:g}s to take the last rows of {self.path}"

    def _run(self) -> None:
        synced = time.monotonic()
        try:
            while (batch := self._queue.get()) is not None:
                try:
                    if self.error is None:
                        self._writer.write_batch(batch)
                        self.written += batch.num_rows
                        if time.monotonic() - synced >= self._sync_interval_s:
                            os.fsync(self._file.fileno())
                            synced = time.monotonic()
                    else:
                        self.lost += batch.num_rows
                except (OSError, pa.ArrowException) as exc:
                    self.error = f"cannot write the recording {self.path}: {exc}"
                    self.lost += batch.num_rows
                finally:
                    self._queue.task_done()
            with contextlib.suppress(OSError, pa.ArrowException):  # a failed stream may not close cleanly
                self._writer.close()
                os.fsync(self._file.fileno())
            self._queue.task_done()  # the None
        finally:
            with contextlib.suppress(OSError):
                self._file.close()


def read_stream(path: Path, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
    """The stream's batches in order, up to its last complete one (a run killed mid-write tore the next)."""
    try:
        source = pa.OSFile(str(path))  # not mapped: pages read once need not stay in this process
    except (OSError, pa.ArrowException):
        return
    with source:
        try:
            reader = pa.ipc.open_stream(source)
        except (OSError, pa.ArrowException):  # killed before the schema was flushed: no rows either
            return
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (OSError, pa.ArrowException):
                return
            yield batch.select(list(columns)) if columns is not None else batch


def stream_table(path: Path, columns: Sequence[str] | None = None, *, since: float | None = None) -> pa.Table:
    """What the stream holds as one table (only requests that started at ``since`` or later, if given)."""
    names = list(columns) if columns is not None else REQUEST_SCHEMA.names
    schema = pa.schema([REQUEST_SCHEMA.field(n) for n in names])
    batches = []
    for batch in read_stream(path):
        if since is not None:
            batch = batch.filter(pc.greater_equal(batch.column("start"), since))
        batches.append(batch.select(names))
    return pa.Table.from_batches(batches, schema=schema)


def finish_recording(stream: Path, target: Path) -> Path:
    """Convert the stream into ``target`` (requests.parquet), row group by row group, then remove the stream.

    Written to a temporary sibling and renamed into place, so a run killed mid-way leaves the stream and no
    truncated Parquet file. No stream (the load never started) gives an empty file.
    """
    partial = target.with_name(f".{target.name}.partial")
    with pq.ParquetWriter(partial, REQUEST_SCHEMA, compression="zstd") as writer:
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in read_stream(stream):
            pending.append(batch)
            rows += batch.num_rows
            if rows >= ROW_GROUP_ROWS:
                writer.write_table(pa.Table.from_batches(pending, schema=REQUEST_SCHEMA))
                pending, rows = [], 0
        if pending:
            writer.write_table(pa.Table.from_batches(pending, schema=REQUEST_SCHEMA))
    partial.replace(target)
    stream.unlink(missing_ok=True)
    return target
