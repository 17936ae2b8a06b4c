"""A long run's rows go to disk, not into the orchestrator: a million rows through the real collector and writer.

The rows arrive as the load child sends them: wire lines on an OS pipe. The bounds are generous: the process grows
by ~60 MB (allocator arenas, the pipe's lines in flight), a collector that kept its rows as Python objects would
grow by ~300 MB, and Arrow then holds ~0 MB once everything is written where batches kept anywhere would hold ~75 MB.
The measured figures for an hour's rows are in bench/README.md (bench/recording_memory.py).
"""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pytest

from mlchaos.experiments.live import LiveStats
from mlchaos.experiments.load import wire
from mlchaos.experiments.load.collector import RecordCollector
from mlchaos.experiments.load.recording import RecordingWriter, read_stream

pytestmark = pytest.mark.timeout(120)

ROWS_PER_LINE, LINES = 1_000, 1_000
RSS_GROWTH_BOUND_MB = 150
ARROW_HELD_BOUND_MB = 8


def _feed(pipe: int) -> None:
    """What a load child at full speed writes: started, a thousand batches of a thousand rows, done."""
    row = [
        1_790_000_000.5,
        12.5,
        200,
        "primary",
        0.93,
        "legit",
        None,
        "legit",
        None,
        None,
        None,
        0.93,
        False,
        None,
    ]
    batch = wire.encode_batch(1_790_000_001.0, 50, [row] * ROWS_PER_LINE)
    with os.fdopen(pipe, "wb") as out:
        out.write(wire.encode_started(1_790_000_000.0))
        for _ in range(LINES):
            out.write(batch)
        out.write(wire.encode_done(ROWS_PER_LINE * LINES))


def test_a_million_rows_reach_the_disk_and_the_orchestrator_stays_small(tmp_path: Path) -> None:
    process = psutil.Process()
    before = process.memory_info().rss
    peak = before
    recording = RecordingWriter(tmp_path / "requests.arrows")
    stats = LiveStats()
    collector = RecordCollector(recording, stats.add)
    read_end, write_end = os.pipe()
    feeder = threading.Thread(target=_feed, args=(write_end,), daemon=True)
    feeder.start()
    with os.fdopen(read_end, "rb") as stdout:
        collector.attach(stdout, io.BytesIO())
        deadline = time.monotonic() + 100
        while not collector.eof.is_set() and time.monotonic() < deadline:
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.02)
        assert collector.join(timeout_s=10)
    feeder.join(5)
    assert recording.sync(timeout_s=30)
    held_by_arrow = (
        pa.total_allocated_bytes()
    )  # all written, not yet closed: what anything still holds of the rows
    recording.close()

    assert collector.protocol_error is None and collector.sent == ROWS_PER_LINE * LINES
    assert recording.error is None and recording.written == collector.record_count == ROWS_PER_LINE * LINES
    assert stats.total == ROWS_PER_LINE * LINES
    assert (peak - before) / 2**20 < RSS_GROWTH_BOUND_MB
    assert held_by_arrow / 2**20 < ARROW_HELD_BOUND_MB
    assert sum(batch.num_rows for batch in read_stream(recording.path)) == ROWS_PER_LINE * LINES
