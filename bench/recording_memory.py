"""How much memory recording takes: an hour at 1,000 requests/s (3.6 M rows) through the real collector and writer.

A feeder process writes what the load child writes at 1,000 requests/s — the ``started`` line, then a batch line
per 0.2 s of simulated load (200 rows: starts spread over the hour, tiers, a few errors and canary labels, scores)
and the ``done`` line — as fast as it can: time is compressed, the hour goes by in well under a minute, which
only makes it harder (the writer has less time per row). This process reads the pipe with mlchaos's own
:class:`RecordCollector`, feeding the live tallies (``LiveStats``, as ``mlchaos run`` does) and the
:class:`RecordingWriter`; then converts the stream into requests.parquet as the end of a run does. It reports the
peak RSS of this process (imports included) while recording and while converting, and writes the table into
bench/README.md between its BENCH markers.

    .venv/bin/python bench/recording_memory.py             # 3.6 M rows, updates bench/README.md
    .venv/bin/python bench/recording_memory.py 100000      # fewer rows, prints the table only
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from benchlib import stamp, write_section

from mlchaos.experiments.live import LiveStats
from mlchaos.experiments.load import wire
from mlchaos.experiments.load.collector import RecordCollector
from mlchaos.experiments.load.recording import RecordingWriter, finish_recording

RATE = 1_000.0
ROWS = 3_600_000
FLUSH_S = 0.2
GOAL_MB = 600.0
T0 = 1_790_000_000.0


def feed(rows: int) -> None:
    """The feeder process: the load child's stdout for ``rows`` requests at :data:`RATE` (time compressed)."""
    out = sys.stdout.buffer
    rng = np.random.default_rng(7)
    per_line = int(RATE * FLUSH_S)
    out.write(wire.encode_started(T0))
    sent = 0
    while sent < rows:
        n = min(per_line, rows - sent)
        starts = T0 + (sent + np.arange(n)) / RATE
        latency = rng.exponential(20.0, n)
        failed = rng.random(n) < 0.002
        canary = rng.random(n) < 0.05
        confidence = rng.random(n)
        batch = [
            [
                float(starts[i]),
                float(latency[i]),
                503 if failed[i] else 200,
                None if failed[i] else ("fallback" if i % 10 == 0 else "primary"),
                None if failed[i] else float(confidence[i]),
                None if failed[i] else ("fraud" if confidence[i] < 0.1 else "legit"),
                "HTTP 503: feature store unavailable" if failed[i] else None,
                "legit" if canary[i] else None,
                None,
                None,
                None,
                float(confidence[i]),
                False,
                None,
            ]
            for i in range(n)
        ]
        out.write(wire.encode_batch(float(starts[-1]), 50, batch))
        sent += n
    out.write(wire.encode_done(sent))
    out.flush()


class PeakRss:
    """Samples this process's RSS every 50 ms from a thread of its own, until stopped."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        process = psutil.Process()
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, process.memory_info().rss)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / 2**20


def measure(rows: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="mlchaos-bench-") as tmp:
        stream, parquet = Path(tmp) / "requests.arrows", Path(tmp) / "requests.parquet"
        rss = PeakRss()
        recording = RecordingWriter(stream)
        stats = LiveStats()
        collector = RecordCollector(recording, stats.add)
        started = time.perf_counter()
        feeder = subprocess.Popen(
            [sys.executable, __file__, "--feed", str(rows)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert feeder.stdout is not None and feeder.stderr is not None
        collector.attach(feeder.stdout, feeder.stderr)
        if feeder.wait(timeout=1800) != 0 or not collector.join(60):
            raise SystemExit(f"the feeder failed: {collector.stderr_tail}")
        recording.close()
        recorded_s = time.perf_counter() - started
        recording_mb = rss.stop()
        if recording.error or collector.protocol_error or recording.written != rows:
            raise SystemExit(f"recording failed: {recording.error or collector.protocol_error}")
        stream_mb = stream.stat().st_size / 2**20
        rss = PeakRss()
        started = time.perf_counter()
        finish_recording(stream, parquet)
        finish_s = time.perf_counter() - started
        finish_mb = rss.stop()
        return {
            "rows": rows,
            "seconds": recorded_s,
            "rows_s": rows / recorded_s,
            "peak_mb": recording_mb,
            "stream_mb": stream_mb,
            "finish_s": finish_s,
            "finish_mb": finish_mb,
            "parquet_mb": parquet.stat().st_size / 2**20,
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }


def table(r: dict[str, float]) -> str:
    met = "yes" if max(r["peak_mb"], r["finish_mb"]) <= GOAL_MB else "**no**"
    return "\n".join(
        [
            "| rows | simulated | recorded in (s) | rows/s taken | peak RSS recording (MB) | stream (MB) "
            "| to requests.parquet (s) | peak RSS converting (MB) | requests.parquet (MB) | goal ≤ 600 MB met |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---|",
            f"| {r['rows']:,.0f} | {r['rows'] / RATE / 60:.0f} min at {RATE:,.0f}/s | {r['seconds']:.1f} "
            f"| {r['rows_s']:,.0f} | {r['peak_mb']:.0f} | {r['stream_mb']:.0f} | {r['finish_s']:.1f} "
            f"| {r['finish_mb']:.0f} | {r['parquet_mb']:.0f} | {met} |",
        ]
    )


def main(argv: list[str]) -> None:
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return
    if argv[:1] == ["--feed"]:
        feed(int(argv[1]))
        return
    load_before = os.getloadavg()[0]
    result = measure(int(argv[0]) if argv else ROWS)
    text = f"{table(result)}\n\n{stamp(load_before)}"
    print(text)
    if not argv:
        write_section("recording_memory", text)


if __name__ == "__main__":
    main(sys.argv[1:])
