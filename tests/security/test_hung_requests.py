"""Requests that vanish (issue 13, attack 4), tried as they were: a target that dribbles one byte every 0.5 s
(never tripping a per-read timeout) and a target that stops answering just before the load stops.

Before: the load's `request_timeout` bounded each read, so dribbled requests never timed out; requests still in
flight at the stop were dropped (100 sent, 10 hung: "sent 90, all 200, availability 100 %"); a prober against a
dribbling health endpoint took no sample in 12 s and its thread outlived stop(). Now every request has one total
deadline, a request the stop cuts off is a timeout row, and the prober records failed samples and stops.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from load_specs import load_spec
from raw_http import answer, dribble, raw_server
from support.waiting import wait_until

from mlchaos.experiments.load.runner import LoadRunner
from mlchaos.experiments.load.spec import LoadSpec
from mlchaos.experiments.probes import Prober
from mlchaos.experiments.records import REQUEST_COLUMNS, RequestRecord
from mlchaos.experiments.targets import HealthPaths, TargetEndpoints
from mlchaos.experiments.verifiers.steady_state import SteadyState, available, evaluate

pytestmark = pytest.mark.timeout(60)  # only against a hang: nothing here is timed

OK = b'{"tier": "primary", "confidence": 0.9, "prediction": "legit"}'
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(OK), OK)
SLACK_MS = 1000
"""What a recorded timeout may take beyond its deadline on a busy machine: the loop noticing it, and recording
it. (Cut per read instead, a dribbled request would last until the load's stop: seconds more.)"""


def run(load: LoadSpec, until: Callable[[], bool] | None = None) -> LoadRunner:
    """The load to its end — or, with ``until``, stopped (SIGTERM) once ``until()`` holds."""
    runner = LoadRunner(load)
    try:
        runner.start()
        if until is not None:
            wait_until(until, 20.0, "the point at which the test stops the load")
            runner.stop()
        else:
            runner.wait(timeout_s=30)
    finally:
        runner.stop(timeout_s=5)
    assert runner.error is None, runner.error
    return runner


def frame(records: list[RequestRecord]) -> pd.DataFrame:
    return pd.DataFrame([dataclasses.astuple(r) for r in records], columns=REQUEST_COLUMNS)


@pytest.mark.parametrize("team", [False, True], ids=["own-users", "team-httpuser"])
def test_a_dribbled_answer_is_a_timeout_at_the_total_deadline(tmp_path: Path, team: bool) -> None:
    with raw_server(dribble(ANSWER, every_s=0.5)) as server:
        runner = run(load_spec(server.url, tmp_path, team=team, duration_s=2.5, request_timeout_s=1.0))

    records = runner.records
    assert len(records) == runner.sent == server.count  # every request sent has its row
    timed_out = [r for r in records if r.error == "DeadlinePassed: no complete answer within 1s"]
    stopped = [
        r for r in records if str(r.error).startswith("timed out: no answer yet when the load stopped")
    ]
    assert len(timed_out) >= 2 and len(timed_out) + len(stopped) == len(records)
    assert all(r.status == 0 for r in records)
    # Locust's clock starts a moment after the deadline's: a timeout may read a few ms under it
    assert all(950 <= r.latency_ms <= 1000 + SLACK_MS for r in timed_out), [r.latency_ms for r in timed_out]


def hang_when(hanging: threading.Event, hung: list[int]) -> Callable[[socket.socket, threading.Event], None]:
    """Answers at once — until ``hanging`` is set: from then on a request is never answered."""

    def respond(conn: socket.socket, stop: threading.Event) -> None:
        if not hanging.is_set():
            answer(OK)(conn, stop)
            return
        hung.append(1)
        stop.wait(30)  # until the test ends: the connection stays open, the answer never comes
        raise OSError("the test is over")

    return respond


def test_requests_in_flight_at_the_stop_are_timeouts_that_availability_counts(tmp_path: Path) -> None:
    hanging, hung = threading.Event(), []
    with raw_server(hang_when(hanging, hung)) as server:
        load = load_spec(
            server.url, tmp_path, users=10, duration_s=30.0, request_timeout_s=30.0, stop_grace_s=0.3
        )

        def ten_hung() -> bool:
            if server.count >= 90:
                hanging.set()
            return len(hung) == 10  # each of the 10 users waits on one answer that never comes

        runner = run(load, until=ten_hung)

    records = frame(runner.records)
    assert len(records) == runner.sent == server.count
    stopped = records["error"].str.startswith("timed out: no answer yet when the load stopped", na=False)
    assert stopped.sum() == 10 and (records.loc[stopped, "status"] == 0).all()
    assert (~available(records)).sum() == 10
    verdict = evaluate(SteadyState(min_availability=1.0), records, tiers=("primary",))
    assert not verdict.holds and verdict.availability == pytest.approx(1 - 10 / len(records))


def test_a_prober_against_a_dribbling_health_endpoint_records_failures_and_stops(tmp_path: Path) -> None:
    with raw_server(dribble(ANSWER, every_s=0.5)) as server:
        target = TargetEndpoints(service_url=server.url, health=HealthPaths(inference=None, metrics=None))
        prober = Prober(target, interval_s=1.0)  # a deadline of 1 s; a byte comes every 0.5 s
        before = set(threading.enumerate())
        prober.start()
        try:
            wait_until(
                lambda: {"ready", "live"} <= {s.check for s in prober.samples},
                15.0,
                "a whole round of probes",
            )
        finally:
            prober.stop()
        left = [t for t in threading.enumerate() if t not in before and t.name == "mlchaos-prober"]

    assert left == []  # stop() returned with the thread ended, not abandoned
    samples = [s for s in prober.samples if s.check in ("ready", "live")]
    assert samples and all(not s.ok for s in samples)
    assert {str(s.error) for s in samples} == {"no complete answer within 1s"}
    assert all(s.latency_ms is not None and s.latency_ms <= 1000 + SLACK_MS for s in samples)
