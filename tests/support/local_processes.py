"""Processes and ports the tests start on this machine: a free loopback port, and children that die with the test.

``from support.local_processes import free_port``: used by the Kubernetes test environment, the test Prometheus
and the tests that need a port nothing listens on.
"""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
from collections.abc import Callable


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def die_with_parent(signum: signal.Signals) -> Callable[[], None]:
    """A ``preexec_fn``: the kernel sends the child ``signum`` when the test process dies, however it dies."""

    def arrange() -> None:  # runs in the child between fork and exec
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signum)

    return arrange


def stop(process: subprocess.Popen[bytes], within_s: float = 15.0) -> None:
    """Stop a server the test started: SIGTERM, then SIGKILL if it is still there after ``within_s``."""
    process.terminate()
    try:
        process.wait(timeout=within_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=within_s)
