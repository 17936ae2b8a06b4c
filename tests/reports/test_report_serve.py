"""``mlchaos serve DIR``, for real: the command started as a user starts it, asked over 127.0.0.1, stopped with
Ctrl-C (SIGINT). One server process answers every check, so the test costs one CLI start-up (~2 s)."""

from __future__ import annotations

import http.client
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.cli_runs import MLCHAOS, cli_env
from support.waiting import wait_until
from typer.testing import CliRunner

from mlchaos.experiments.cli import app
from mlchaos.reports.index import write_index

RUN = "20261122-100000-synthetic-outage"


@dataclass
class Served:
    port: int
    token: str
    """The random first path segment everything is served under (printed in the URL)."""
    lines: list[str]
    """What the command printed, request log included."""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """``mlchaos serve`` on a folder with one run's outputs (what is in them does not matter to the server), its
    index, and things that must not be served."""
    folder = tmp_path / "runs"
    (folder / RUN).mkdir(parents=True)
    for name, text in (("report.html", "<!DOCTYPE html><title>r</title>"), ("summary.json", "{}")):
        (folder / RUN / name).write_text(text, encoding="utf-8")
    (folder / RUN / "requests.parquet").write_bytes(b"PAR1")
    write_index(folder)
    (tmp_path / "secret.txt").write_text("outside the folder", encoding="utf-8")
    (folder / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (folder / ".hidden.html").write_text("a partial page", encoding="utf-8")
    process = subprocess.Popen(
        [str(MLCHAOS), "serve", str(folder), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=cli_env(),
    )
    lines: list[str] = []
    reader_thread = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader_thread.start()
    try:
        url = wait_until(
            lambda: next((w for line in lines for w in line.split() if w.startswith("http://")), ""),
            60,
            "mlchaos serve to print its URL",
            0.1,
        )
        found = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/([A-Za-z0-9_-]{20,})/", url)
        assert found, lines
        yield Served(int(found[1]), found[2], lines)
        process.send_signal(signal.SIGINT)  # Ctrl-C
        assert process.wait(timeout=15) == 0, lines
        reader_thread.join(timeout=5)
        assert lines[-1].strip() == "stopped", lines
        # The request log masks the token: only the URL line, printed once for the user, shows it.
        assert any(f"GET /<token>/{RUN}/report.html" in line for line in lines), lines
        assert sum(found[2] in line for line in lines) == 1, lines
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader_thread.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()


def _ask(port: int, method: str, path: str, host: str = "127.0.0.1") -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    # skip_host: the Host header is the test's to choose; the path goes exactly as given (no normalising).
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    connection.putheader("Host", f"{host}:{port}")
    connection.endheaders()
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_serve_answers_reads_and_refuses_the_rest(served: Served) -> None:
    port, top = served.port, f"/{served.token}"
    index = _ask(port, "GET", f"{top}/")
    assert index.status == 200 and index.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in index.headers["Content-Security-Policy"]
    assert _ask(port, "GET", f"{top}/{RUN}/report.html").status == 200  # the index's relative link
    assert _ask(port, "HEAD", f"{top}/{RUN}/summary.json").headers["Content-Type"] == "application/json"
    moved = _ask(port, "GET", top)  # without the slash, relative links would lose the token
    assert (moved.status, moved.headers["Location"]) == (301, f"{top}/")

    refused = {
        "/": 404,  # without the token: another user of the machine sees nothing
        "/index.html": 404,
        f"/{'x' * len(served.token)}/index.html": 404,
        f"{top}/../secret.txt": 404,  # traversal, as sent
        f"{top}/%2e%2e/secret.txt": 404,  # traversal, encoded
        f"{top}/escape.txt": 404,  # a symbolic link out of the folder
        f"{top}/{RUN}/": 404,  # no directory listing
        f"{top}/.hidden.html": 404,  # hidden files (partial pages, locks)
        f"{top}/{RUN}/requests.parquet": 404,  # not an output people read
        f"{top}/missing.html": 404,
    }
    assert {path: _ask(port, "GET", path).status for path in refused} == refused
    for method in ("POST", "PUT", "DELETE", "PATCH", "BREW"):
        answer = _ask(port, method, f"{top}/index.html")
        assert (answer.status, answer.headers["Allow"]) == (405, "GET, HEAD"), method
    # Bound to loopback: a request for another host (DNS rebinding from a web page) is not answered.
    assert _ask(port, "GET", f"{top}/", host="reports.attacker.example").status == 403
    assert _ask(port, "GET", f"{top}/", host="localhost").status == 200


def test_index_and_serve_need_a_folder(tmp_path: Path) -> None:
    for command in ("index", "serve"):
        result = CliRunner().invoke(app, [command, str(tmp_path / "missing")])
        assert result.exit_code == 2 and "not a directory" in result.output, (command, result.output)
