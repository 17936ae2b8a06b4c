"""``mlchaos load-worker HOST:PORT``: a long-lived load worker, as the chart's worker pods run it.

Each load is served by a fresh worker process (:func:`mlchaos.experiments.load.distributed_worker.run_worker`), which
connects to the master at HOST:PORT, waits for it as long as it takes, sends the requests it is given and exits
when that load is over. This loop then starts the next one, so a pod serves every run of a monthly suite — one
master per scenario — without restarting, and no state of one load leaks into the next.

Each worker process gets the load secret and the hosts it may reach in its environment (never on its command
line, which every user of the machine can read); it takes a spec only from a master that proves it holds the
same secret, and runs it only if every host the spec sends requests to is loopback or one of those hosts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from mlchaos.experiments.load import load_secret, worker_hosts
from mlchaos.experiments.load.spec import WORKER_EXIT_BUSY

CHILD_MODULE = "mlchaos.experiments.load.child"
BUSY_PAUSE_S = 5.0
"""After being turned away, wait this long before asking again: the master's load is still running."""
FAILURE_PAUSE_S = 2.0


@dataclass(frozen=True)
class Served:
    """One worker process's life: how it ended."""

    number: int
    exit_status: int

    def describe(self) -> str:
        if self.exit_status == 0:
            return f"load {self.number}: served"
        if self.exit_status == WORKER_EXIT_BUSY:
            return f"load {self.number}: the master was busy with other workers; asking again in {BUSY_PAUSE_S:g}s"
        return f"load {self.number}: worker exited with status {self.exit_status}; retrying in {FAILURE_PAUSE_S:g}s"


def serve(
    master: str,
    *,
    secret: str,
    allowed_hosts: tuple[str, ...] = (),
    loads: int | None = None,
    say: Callable[[str], None] = print,
    python: str = sys.executable,
) -> int:
    """Serve loads for the master at ``master`` until ``loads`` were served (None: until SIGTERM/SIGINT).

    Returns 0 on a stop request or after ``loads`` loads; 1 if the last worker failed.
    """
    env = {
        **os.environ,
        load_secret.SECRET_ENV: secret,
        worker_hosts.ALLOW_HOSTS_ENV: ",".join(allowed_hosts),
    }
    env.pop(load_secret.SECRET_FILE_ENV, None)
    stopping = threading.Event()
    current: list[subprocess.Popen[bytes]] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.set()
        for proc in current:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)

    previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}
    served, last = 0, 0
    try:
        reach = ", ".join(("loopback", *allowed_hosts))
        say(f"load worker: serving the mlchaos load master at {master}; requests may go to {reach}")
        while not stopping.is_set() and (loads is None or served < loads):
            proc = subprocess.Popen(
                [
                    python,
                    "-m",
                    CHILD_MODULE,
                    "--worker",
                    master,
                    "--stop-on-stdin-eof",
                    "--parent",
                    str(os.getpid()),
                ],
                stdin=subprocess.PIPE,
                env=env,
            )
            current[:] = [proc]
            if stopping.is_set():  # the signal came while it was being started
                proc.terminate()
            last = proc.wait()
            if proc.stdin is not None:  # held only so that the worker stops if this process dies
                proc.stdin.close()
            current.clear()
            if stopping.is_set():
                break
            served += last == 0
            outcome = Served(served if last == 0 else served + 1, last)
            say(outcome.describe())
            if last != 0:
                stopping.wait(BUSY_PAUSE_S if last == WORKER_EXIT_BUSY else FAILURE_PAUSE_S)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0 if last in (0, WORKER_EXIT_BUSY) or stopping.is_set() else 1
