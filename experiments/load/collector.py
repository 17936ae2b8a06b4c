"""Drains the load child's pipes: decodes its stdout into record batches for the recording, keeps the tail of its
stderr.

Each pipe gets a daemon thread of its own, so the child never blocks on a full pipe and the orchestrator never
waits on the child to read anything: it just looks at what has been collected so far. Process management
(spawn, signals, exit codes) is :mod:`mlchaos.experiments.load.runner`'s job, not this module's.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import IO

import pyarrow as pa

from mlchaos.experiments.load import wire
from mlchaos.experiments.load.recording import RecordingWriter, rows_batch

logger = logging.getLogger("mlchaos.load")

STDERR_TAIL_LINES = 40
"""How much of the child's stderr an error message quotes: enough for a traceback's useful end."""
USER_COUNTS_KEPT = 100_000
"""Flushes whose user count is kept: over five hours at the default 0.2 s flush interval."""

BatchCallback = Callable[[pa.RecordBatch], None]
"""Called with each non-empty batch of rows (``REQUEST_SCHEMA``) as it arrives."""


class RecordCollector:
    """What the child reported so far; thread-safe to read while the readers write.

    Rows are not kept here: each batch goes to ``recording`` (written to disk by its own thread) and to
    ``on_batch`` (the live tallies), so what this holds does not grow with the run's length.
    """

    def __init__(
        self, recording: RecordingWriter | None = None, on_batch: BatchCallback | None = None
    ) -> None:
        self._recording = recording
        self._on_batch = on_batch
        self._lock = threading.Lock()
        self._record_count = 0
        self._user_counts: deque[tuple[float, int]] = deque(maxlen=USER_COUNTS_KEPT)
        self._stderr: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._threads: list[threading.Thread] = []
        self.started = threading.Event()
        """Set when the child's ``started`` line arrived."""
        self.eof = threading.Event()
        """Set when the child's stdout closed (it exited, or is about to)."""
        self.started_at: float | None = None
        self.sent: int | None = None
        """The child's own count from its ``done`` line; ``None`` until then."""
        self.protocol_error: str | None = None
        self.callback_error: BaseException | None = None

    def attach(self, stdout: IO[bytes], stderr: IO[bytes]) -> None:
        """Start draining both pipes of a freshly spawned child."""
        for target, stream, name in (
            (self._read_stdout, stdout, "stdout"),
            (self._read_stderr, stderr, "stderr"),
        ):
            thread = threading.Thread(target=target, args=(stream,), name=f"mlchaos-load-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def join(self, timeout_s: float) -> bool:
        """Wait for both readers to reach EOF; whether they did (only then may the pipes be closed)."""
        for thread in self._threads:
            thread.join(timeout_s)
        return not any(thread.is_alive() for thread in self._threads)

    @property
    def record_count(self) -> int:
        """Rows received so far (all went to the recording)."""
        with self._lock:
            return self._record_count

    @property
    def user_counts(self) -> list[tuple[float, int]]:
        with self._lock:
            return list(self._user_counts)

    @property
    def stderr_tail(self) -> str:
        with self._lock:
            return "\n".join(self._stderr)

    def _read_stdout(self, stream: IO[bytes]) -> None:
        try:
            for line in stream:
                try:
                    self._handle(wire.decode(line))
                except (ValueError, TypeError) as exc:  # incl. ProtocolError; a row of the wrong shape too
                    self.protocol_error = (
                        str(exc)
                        if isinstance(exc, wire.ProtocolError)
                        else f"bad line from the load child ({exc}): {line[:200]!r}"
                    )
                    logger.error("%s", self.protocol_error)
        finally:
            self.eof.set()

    def _handle(self, message: wire.Message) -> None:
        if isinstance(message, wire.Batch):
            batch = rows_batch(message.rows)
            with self._lock:
                self._record_count += batch.num_rows
                self._user_counts.append((message.t, message.users))
            if not batch.num_rows:
                return
            if self._recording is not None:
                self._recording.put(batch)
            if self._on_batch is not None and self.callback_error is None:
                try:
                    self._on_batch(batch)
                except Exception as exc:  # the pipe must keep draining whatever the callback does
                    self.callback_error = exc
                    logger.exception("on_batch callback failed; no further batches are passed to it")
        elif isinstance(message, wire.Started):
            self.started_at = message.t
            self.started.set()
        else:
            self.sent = message.sent

    def _read_stderr(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip()
            with self._lock:
                self._stderr.append(line)
            logger.warning("load child: %s", line)
