"""The worker processes a distributed load's master starts itself, on loopback, when the run was given no
``--worker-bind``: each gets the master's address, and the load secret in its environment."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time

from mlchaos.experiments.load import load_secret, worker_hosts

LOOPBACK = "127.0.0.1"

logger = logging.getLogger("mlchaos.load.distributed")


class LocalWorkers:
    """Worker processes the master starts itself, connected to it over loopback.

    Each one's stdin is a pipe held here: closing it (or this process dying) makes the worker stop.
    """

    def __init__(self, count: int, port: int, secret: str, hosts: tuple[str, ...]) -> None:
        command = [
            sys.executable, "-m", "mlchaos.experiments.load.child",
            "--worker", f"{LOOPBACK}:{port}", "--stop-on-stdin-eof", "--parent", str(os.getpid()),
        ]  # fmt: skip
        # the secret in the environment, not on the command line: every user can read a command line
        env = {**os.environ, load_secret.SECRET_ENV: secret, worker_hosts.ALLOW_HOSTS_ENV: ",".join(hosts)}
        env.pop(load_secret.SECRET_FILE_ENV, None)
        self._procs: list[subprocess.Popen[bytes]] = []
        for _ in range(count):
            self._procs.append(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=sys.stderr, env=env))

    def exited(self) -> list[str]:
        """One line per worker process that has ended."""
        return [
            f"load worker process {proc.pid} exited with status {proc.returncode}"
            for proc in self._procs
            if proc.poll() is not None
        ]

    def has_exited(self, pid: int | None) -> bool:
        """Whether the worker process ``pid`` (one of these) has ended."""
        return any(proc.pid == pid and proc.poll() is not None for proc in self._procs)

    def stop(self, timeout_s: float = 5.0) -> None:
        """After the master's quit message the workers end by themselves; closing stdin stops any that did not
        get it, and a worker still there at ``timeout_s`` is killed."""
        deadline = time.monotonic() + timeout_s
        self._wait(deadline - timeout_s / 2)
        for proc in self._procs:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
        self._wait(deadline)
        for proc in self._procs:
            if proc.poll() is None:
                logger.warning("load worker %d did not stop; killing it", proc.pid)
                proc.kill()
                proc.wait()

    def _wait(self, until: float) -> None:
        for proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.0, until - time.monotonic()))
