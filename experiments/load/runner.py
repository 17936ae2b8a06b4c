"""The orchestrator's handle on the Locust load child: start it, collect its records, stop it.

Locust and gevent are never imported here (nor anywhere the orchestrator imports): the child
(:mod:`mlchaos.experiments.load.child`) runs them in a process of its own; this module spawns it, signals it,
and leaves decoding its output to a :class:`~mlchaos.experiments.load.collector.RecordCollector`, whose reader
threads keep the pipes drained so neither side ever waits on the other. The rows go straight to the recording on
disk (:mod:`mlchaos.experiments.load.recording`): the orchestrator does not keep them.

Errors::

    LoadError            the child could not start, died early, or its records are incomplete
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from types import TracebackType

import pandas as pd
import pyarrow as pa

from mlchaos.experiments.errors import LoadFailure
from mlchaos.experiments.load.bodies import BodyError, body_source
from mlchaos.experiments.load.collector import BatchCallback, RecordCollector
from mlchaos.experiments.load.mix import InputMixer
from mlchaos.experiments.load.recording import STREAM_NAME, RecordingFailed, RecordingWriter, stream_table
from mlchaos.experiments.load.spec import LoadSpec
from mlchaos.experiments.records import REQUEST_SCHEMA, RequestRecord

logger = logging.getLogger("mlchaos.load")

CHILD_MODULE = "mlchaos.experiments.load.child"
STOP_SLACK_S = 3.0
"""What a stopping child may take beyond ``stop_grace_s``: the final flush and interpreter shutdown."""
WORKERS_STOP_SLACK_S = 8.0
"""What a master may take beyond that: its workers' last rows and counts, then stopping the workers."""
_POLL_S = 0.05


class LoadError(RuntimeError, LoadFailure):
    """The load child could not start, died before finishing, or its records are incomplete.

    ``returncode`` is the child's exit status (negative: killed by that signal; ``None``: never ran or still
    running) and ``stderr_tail`` its last lines of stderr, which usually say why.
    """

    def __init__(self, message: str, *, returncode: int | None = None, stderr_tail: str = "") -> None:
        detail = f"{message} (exit status {returncode})" if returncode is not None else message
        super().__init__(
            f"{detail}\n--- load child stderr (tail) ---\n{stderr_tail}" if stderr_tail else detail
        )
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class LoadRunner:
    """Runs one :class:`LoadSpec` in a child process and records every request it streams into ``recording``
    (an Arrow IPC stream file, :mod:`~mlchaos.experiments.load.recording`; by default one in a temporary
    directory removed with the runner).

    ``on_batch`` is called from the reader thread with each non-empty batch (a ``pyarrow.RecordBatch`` of
    ``REQUEST_SCHEMA``) as it arrives (about every ``flush_interval_s``); keep it quick and thread-safe. If it
    raises, it is not called again and :meth:`wait` reports the failure, while rows keep being recorded.
    """

    def __init__(
        self,
        spec: LoadSpec,
        *,
        recording: Path | None = None,
        on_batch: BatchCallback | None = None,
        python: str = sys.executable,
    ):
        self.spec = spec
        self._python = python
        self._proc: subprocess.Popen[bytes] | None = None
        self._spec_path: str | None = None
        self._recording_path = recording
        self._writer: RecordingWriter | None = None
        self._on_batch = on_batch
        self._collector = RecordCollector()
        self._killed = False

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self, timeout_s: float = 30.0) -> None:
        """Spawn the child and return once it reports that load has begun (its ``started`` line).

        The spec's bodies are checked here first (a broken template raises :class:`LoadError` without spawning
        anything). Raises :class:`LoadError` if the child exits or stays silent for ``timeout_s`` (plus the spec's
        ``workers_timeout_s`` when it first waits for its workers).
        """
        if self._proc is not None:
            raise LoadError("this LoadRunner was already started; create a new one for another run")
        try:
            body_source(self.spec)
            InputMixer(self.spec)
        except BodyError as exc:
            raise LoadError(f"invalid load spec: {exc}") from exc
        if self._recording_path is None:
            scratch = tempfile.mkdtemp(prefix="mlchaos-recording-")
            weakref.finalize(self, shutil.rmtree, scratch, ignore_errors=True)
            self._recording_path = Path(scratch) / STREAM_NAME
        try:
            self._writer = RecordingWriter(self._recording_path)
        except RecordingFailed as exc:
            raise LoadError(str(exc)) from exc
        self._collector = RecordCollector(self._writer, self._on_batch)
        # mkstemp: mode 0600, as spec.headers may carry tokens; removed as soon as the child has read it
        fd, self._spec_path = tempfile.mkstemp(prefix="mlchaos-load-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self.spec.model_dump_json())
        cmd = [
            self._python,
            "-m",
            CHILD_MODULE,
            self._spec_path,
            "--stop-on-stdin-eof",
            "--parent",
            str(os.getpid()),
        ]
        try:
            # own session: a Ctrl-C meant for the orchestrator must not stop the load behind its back
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            self._remove_spec_file()
            raise LoadError(f"cannot start the load child {cmd!r}: {exc}") from exc
        assert self._proc.stdout is not None and self._proc.stderr is not None
        collector = self._collector
        collector.attach(self._proc.stdout, self._proc.stderr)

        if self.spec.workers:  # the child waits this long for its workers before it starts the load
            timeout_s += self.spec.workers_timeout_s
        deadline = time.monotonic() + timeout_s
        while not collector.started.is_set() and not collector.eof.is_set() and time.monotonic() < deadline:
            collector.started.wait(_POLL_S)
        if not collector.started.is_set():
            why = "exited before starting" if collector.eof.is_set() else f"did not start in {timeout_s:g}s"
            self.stop(timeout_s=2.0)
            raise LoadError(f"load child {why}", returncode=self.returncode, stderr_tail=self.stderr_tail)
        self._remove_spec_file()  # the child has read it

    def stop(self, timeout_s: float | None = None) -> int | None:
        """Stop the child: SIGTERM (it stops users and flushes), SIGKILL if not gone within ``timeout_s``.

        The default timeout is the spec's ``stop_grace_s`` (in-flight requests may take that long) plus
        :data:`STOP_SLACK_S` (and :data:`WORKERS_STOP_SLACK_S` with workers). Idempotent, never raises for the
        child's state (use :meth:`wait` for that), safe in ``finally``. Returns the exit status, ``None`` if the
        child was never started.
        """
        proc = self._proc
        if proc is None:
            return None
        if timeout_s is None:
            timeout_s = (
                self.spec.stop_grace_s + STOP_SLACK_S + (WORKERS_STOP_SLACK_S if self.spec.workers else 0)
            )
        if proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                logger.warning("load child ignored SIGTERM for %.1fs; killing it", timeout_s)
                self._killed = True
                self._signal(signal.SIGKILL)
                proc.wait()
        self._finish(join_timeout_s=timeout_s)
        return proc.returncode

    def wait(self, timeout_s: float | None = None) -> int | None:
        """Wait for the child to end on its own (``duration_s``); ``None`` if still running at ``timeout_s``.

        Raises :class:`LoadError` if the child failed, was killed, or its records are incomplete.
        """
        proc = self._proc
        if proc is None:
            raise LoadError("the load was never started: call start() first")
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None
        self._finish(join_timeout_s=5.0)
        error = self.error
        if error is not None:
            raise error
        return proc.returncode

    def __enter__(self) -> LoadRunner:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- state -----------------------------------------------------------------------------------------------

    @property
    def recording(self) -> Path | None:
        """The recording's stream file (``None`` before :meth:`start`)."""
        return self._recording_path

    @property
    def recording_error(self) -> str | None:
        """Why the recording could not be written; the run must stop on it, not go on unrecorded."""
        return self._writer.error if self._writer is not None else None

    def requests(self, since: float | None = None) -> pd.DataFrame:
        """The recorded requests (those started at ``since`` or later), read back from disk: the rows received so
        far, in arrival order. Memory grows with what is read, so ask for a window (``since``) during a run."""
        frame: pd.DataFrame = self._table(since).to_pandas()
        return frame

    @property
    def records(self) -> list[RequestRecord]:
        """Every recorded request so far, read back from disk, in arrival order: for tests and small runs."""
        return [RequestRecord(**row) for row in self._table(None).to_pylist()]

    def _table(self, since: float | None) -> pa.Table:
        if self._writer is None or self._recording_path is None:
            return REQUEST_SCHEMA.empty_table()
        self._writer.sync()
        return stream_table(self._recording_path, since=since)

    @property
    def sent(self) -> int | None:
        """How many records the child says it sent (its ``done`` line); ``None`` until it finished cleanly."""
        return self._collector.sent

    @property
    def user_counts(self) -> list[tuple[float, int]]:
        """``(epoch, users)`` at every flush: the load shape as it actually ran."""
        return self._collector.user_counts

    @property
    def started_at(self) -> float | None:
        """Epoch at which the child started the load (``None`` before)."""
        return self._collector.started_at

    @property
    def stderr_tail(self) -> str:
        return self._collector.stderr_tail

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    @property
    def error(self) -> LoadError | None:
        """What went wrong once the child has ended, or ``None`` (also ``None`` while it runs)."""
        code = self.returncode
        if code is None:
            return None
        collector = self._collector
        if self.recording_error is not None:
            return LoadError(self.recording_error, returncode=code)
        if collector.callback_error is not None:
            return LoadError(f"on_batch callback failed: {collector.callback_error!r}", returncode=code)
        if self._killed:
            problem = "load child was killed after ignoring SIGTERM; its last records are lost"
        elif code != 0:
            problem = "load child failed" if code > 0 else f"load child was killed by signal {-code}"
        elif collector.protocol_error is not None:
            problem = collector.protocol_error
        elif collector.sent is None:
            problem = "load child exited without its final 'done' line; records may be missing"
        elif collector.sent != collector.record_count:
            problem = f"load child sent {collector.sent} records but {collector.record_count} arrived"
        elif (
            self._writer is not None
            and self._writer.closed
            and self._writer.written != collector.record_count
        ):
            problem = f"{collector.record_count} records arrived but {self._writer.written} were recorded"
        else:
            return None
        return LoadError(problem, returncode=code, stderr_tail=self.stderr_tail)

    # -- internals -------------------------------------------------------------------------------------------

    def _signal(self, signum: int) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError):  # already gone
            self._proc.send_signal(signum)

    def _finish(self, join_timeout_s: float) -> None:
        """After the child exited: drain the pipes, close them, remove the spec file."""
        readers_done = self._collector.join(join_timeout_s)
        if self._writer is not None and readers_done:  # a reader still busy may still put rows
            self._writer.close()
        proc = self._proc
        if proc is not None:
            # a pipe whose reader is still busy stays open: closing it under the thread would crash it
            for pipe in (proc.stdin, *((proc.stdout, proc.stderr) if readers_done else ())):
                if pipe is not None:
                    pipe.close()
        self._remove_spec_file()

    def _remove_spec_file(self) -> None:
        if self._spec_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._spec_path)
            self._spec_path = None
