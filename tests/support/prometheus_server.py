"""A real Prometheus server for the tests (Debian's ``prometheus`` package, ``make prometheus``): started on
127.0.0.1 in a temporary directory, scraping one loopback service every second, stopped and removed afterwards.

Used by tests/signals and tests/own_service: ``from support.prometheus_server import run_prometheus``.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.local_processes import die_with_parent, free_port, stop
from support.waiting import wait_until

PROMETHEUS = Path("/usr/bin/prometheus")
READY_WITHIN_S = 60.0
"""Prometheus starts in a second or two; a loaded 2-core machine gets much more, never unbounded."""


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    job: str = "svc"

    def query(self, promql: str) -> dict[str, Any]:
        address = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        try:
            with urllib.request.urlopen(address, timeout=5) as answer:
                document: dict[str, Any] = json.load(answer)
        except urllib.error.HTTPError as exc:
            document = json.load(exc)
        return document

    def wait_for(self, promql: str, until: Callable[[list[dict[str, Any]]], bool], what: str) -> None:
        """Until the query's result satisfies ``until``; fails at once, with Prometheus' log, if it exits."""

        def satisfied() -> bool:
            if self.process.poll() is not None:
                pytest.fail(
                    f"prometheus exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}"
                )
            return until(self.query(promql).get("data", {}).get("result", []))

        # OSError: not listening yet
        wait_until(satisfied, READY_WITHIN_S, f"{what} ({promql})", interval_s=0.2, ignoring=(OSError,))


def run_prometheus(scraped_url: str, metrics_path: str = "/metrics") -> Iterator[Prometheus]:
    """A real Prometheus scraping ``scraped_url`` + ``metrics_path`` every second, in a temporary directory removed
    afterwards; ready once a first scrape of it can be queried."""
    if not PROMETHEUS.exists():
        pytest.fail(f"{PROMETHEUS} is missing: run `make prometheus` (scripts/install-prometheus.sh) first")
    directory = Path(tempfile.mkdtemp(prefix="mlchaos-prometheus-"))
    target = scraped_url.removeprefix("http://")
    config = directory / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: svc\n    metrics_path: {metrics_path}\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    port = free_port()
    log = directory / "prometheus.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(signal.SIGTERM),
        )
    server = Prometheus(f"http://127.0.0.1:{port}", process, log)
    try:
        server.wait_for('up{job="svc"}', lambda result: any(r["value"][1] == "1" for r in result), "a scrape")
        yield server
    finally:
        stop(process)
        shutil.rmtree(directory, ignore_errors=True)
