"""A real Prometheus Pushgateway for the tests (Debian's ``prometheus-pushgateway``, ``make pushgateway``): started
on a free 127.0.0.1 port with its persistence file in a temporary directory, stopped and removed afterwards.

Used by tests/publish: ``from support.pushgateway_server import run_pushgateway``.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.local_processes import die_with_parent, free_port, stop
from support.waiting import wait_until

PUSHGATEWAY = Path("/usr/bin/prometheus-pushgateway")
READY_WITHIN_S = 60.0


@dataclass(frozen=True)
class Pushgateway:
    url: str
    log: Path

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as answer:
            return answer.read().decode("utf-8")  # type: ignore[no-any-return]


def run_pushgateway() -> Iterator[Pushgateway]:
    if not PUSHGATEWAY.exists():
        pytest.fail(
            f"{PUSHGATEWAY} is missing: run `make pushgateway` (scripts/install-pushgateway.sh) first"
        )
    directory = Path(tempfile.mkdtemp(prefix="mlchaos-pushgateway-"))
    port = free_port()
    log = directory / "pushgateway.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                str(PUSHGATEWAY),
                f"--web.listen-address=127.0.0.1:{port}",
                f"--persistence.file={directory / 'pushgateway.data'}",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(signal.SIGTERM),
        )
    gateway = Pushgateway(f"http://127.0.0.1:{port}", log)

    def ready() -> bool:
        if process.poll() is not None:
            pytest.fail(f"pushgateway exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with urllib.request.urlopen(f"{gateway.url}/-/ready", timeout=2) as answer:
            return answer.status == 200  # type: ignore[no-any-return]

    try:
        wait_until(ready, READY_WITHIN_S, "the pushgateway to be ready", interval_s=0.2, ignoring=(OSError,))
        yield gateway
    finally:
        stop(process)
        shutil.rmtree(directory, ignore_errors=True)
