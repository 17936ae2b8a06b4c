"""Answers no load may swallow (issue 13, attack 4), tried as they were: a 300 MB answer (sent without a length,
and as a small gzip that inflates to 300 MB), and 200s whose body the target's response mapping cannot read.

Before: 300 MB answers pushed the load child past 1 GB (the chart's memory limit is 1Gi), and a 200 whose body
was not JSON counted as available. Now an answer past ``max_response_bytes`` is an error row naming the cap,
read in pieces and dropped there (the child's memory stays bounded), and an unreadable 2xx is not an answer —
the verdict's text says how many and why.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import socket
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from load_specs import load_spec
from raw_http import Respond, answer, raw_server

from mlchaos.experiments.load.runner import LoadRunner
from mlchaos.experiments.load.spec import LoadSpec
from mlchaos.experiments.records import REQUEST_COLUMNS
from mlchaos.experiments.verifiers.steady_state import SteadyState, evaluate

pytestmark = pytest.mark.timeout(60)  # only against a hang: nothing here is timed

HUGE = 300 * 1024 * 1024
CAP = 1024 * 1024
PEAK_RSS_BOUND = 250 * 1024 * 1024
"""Far below one 300 MB answer (let alone the copies a client makes of it); a load child at rest is ~60 MB."""
PIECE = b'{"tier": "primary", "pad": "' + b"x" * (64 * 1024)


def pieces(total: int) -> Iterator[bytes]:
    """``total`` bytes of an answer, made a piece at a time: the server never holds it either."""
    sent = 0
    while sent < total:
        piece = PIECE[: total - sent]
        sent += len(piece)
        yield piece


@functools.cache
def gzipped(total: int) -> bytes:
    """A gzip stream of ``total`` bytes of answer: a few hundred KB, compressed once, a piece at a time."""
    deflate = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join(deflate.compress(piece) for piece in pieces(total)) + deflate.flush()


def huge(gzip: bool) -> Respond:
    """A 200 of 300 MB without a Content-Length (read to the connection's end), or gzip-encoded."""
    encoding = "Content-Encoding: gzip\r\n" if gzip else ""
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{encoding}Connection: close\r\n\r\n".encode()
    )

    def respond(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(head)
        for piece in (gzipped(HUGE),) if gzip else pieces(HUGE):
            if stop.is_set():
                break
            conn.sendall(piece)
        conn.close()
        raise OSError("one answer per connection")

    return respond


def spec(url: str, tmp_path: Path, *, team: bool = False, **values: object) -> LoadSpec:
    """A load capped at :data:`CAP`, with a deadline long enough that only the cap can end a huge answer."""
    bounds: dict[str, object] = {"duration_s": 1.5, "request_timeout_s": 10.0, "max_response_bytes": CAP}
    return load_spec(url, tmp_path, team=team, **{**bounds, **values})


def run_measuring_peak_rss(load: LoadSpec) -> tuple[LoadRunner, int]:
    """The load to its end, and the child's peak resident memory (the kernel's high-water mark, VmHWM)."""
    runner = LoadRunner(load)
    peak = 0
    try:
        runner.start()
        pid = runner.pid
        assert pid is not None
        for _ in range(int(30 / 0.05)):  # bounded: the load lasts 1.5 s
            if runner.wait(timeout_s=0.05) is not None:
                break
            with contextlib.suppress(FileNotFoundError):  # reaped already
                peak = max(peak, _high_water_mark(pid))
    finally:
        runner.stop(timeout_s=5)
    assert runner.error is None, runner.error
    return runner, peak


def _high_water_mark(pid: int) -> int:
    """0 once the process has exited (a zombie has no memory left to report)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


@pytest.mark.parametrize(
    ("gzip", "team"),
    [(False, False), (True, False), (False, True)],
    ids=["300MB", "gzip-bomb", "300MB-team-httpuser"],
)
def test_an_answer_past_the_cap_is_an_error_row_and_memory_stays_bounded(
    tmp_path: Path, gzip: bool, team: bool
) -> None:
    with raw_server(huge(gzip)) as server:
        runner, peak = run_measuring_peak_rss(spec(server.url, tmp_path, team=team))

    records = runner.records
    assert len(records) == runner.sent == server.count > 0
    assert {r.error for r in records} == {f"AnswerTooLarge: answer larger than {CAP} bytes"}
    assert {r.tier for r in records} == {None}
    assert 0 < peak < PEAK_RSS_BOUND, f"the load child's peak RSS was {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"<html>all good</html>", "text/html", "2xx but body is not JSON"),
        (b'{"prediction": "legit"}', "application/json", "2xx without the tier field 'tier'"),
    ],
    ids=["not-json", "no-tier"],
)
def test_a_2xx_the_mapping_cannot_read_is_not_an_answer_and_the_verdict_says_why(
    tmp_path: Path, body: bytes, content_type: str, reason: str
) -> None:
    with raw_server(answer(body, content_type)) as server:
        runner = LoadRunner(spec(server.url, tmp_path, duration_s=1.0))
        try:
            runner.start()
            runner.wait(timeout_s=30)
        finally:
            runner.stop(timeout_s=5)

    records = pd.DataFrame([dataclasses.astuple(r) for r in runner.records], columns=REQUEST_COLUMNS)
    assert len(records) > 0 and set(records["status"]) == {200} and set(records["error"]) == {reason}
    verdict = evaluate(SteadyState(), records, tiers=("primary",))
    assert not verdict.holds and verdict.availability == 0.0
    assert f"{len(records)} 2xx answers unreadable: {reason} ({len(records)})" in verdict.summary()
