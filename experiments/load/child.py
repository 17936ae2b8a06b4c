"""The Locust load child: ``python -m mlchaos.experiments.load.child SPEC_JSON_PATH [--stop-on-stdin-eof]``.

This is the only module of mlchaos that imports Locust. Importing Locust monkey-patches the whole process for
gevent (sockets, threads, time), which would silently change how the orchestrator's threads, subprocesses and
signal handling behave — so Locust lives in this child and talks to the orchestrator through stdout only.

stdout carries the wire format of :mod:`mlchaos.experiments.load.wire` and nothing else: the child keeps a
private duplicate of the original stdout for it and points file descriptor 1 at stderr, so a stray ``print``
in any library lands in stderr instead of corrupting the stream. Logs (Locust's included) go to stderr at
WARNING.

Lifecycle: validate the spec (exit 2 with a message on stderr, before any load), write ``started``, run Locust
until ``duration_s`` has passed or SIGTERM/SIGINT (or stdin EOF with ``--stop-on-stdin-eof``: the orchestrator
died) arrives, stop starting requests, give in-flight ones ``stop_grace_s`` to finish, flush, write ``done``,
exit 0 — or 1 if a task raised (say a template that failed to render mid-run): Locust only logs those, and a
run that did not send what the scenario asked for must not pass. A SIGALRM backstop kills the process
outright if stopping ever takes far longer than it may.

One row per request is built in a ``request`` event listener, not with ``catch_response``: the listener gets
the response, the exception, the wall-clock start and Locust's latency already computed, so recording costs a
list and a JSON parse per request and no context manager.
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401 - first: it monkey-patches for gevent, which must precede every other import

# isort: on
import argparse
import itertools
import json
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import gevent
import gevent.os
from gevent.event import Event
from locust import FastHttpUser, LoadTestShape, between, task
from locust import log as locust_log
from locust.contrib.fasthttp import LocustBadStatusCode
from locust.env import Environment
from pydantic import ValidationError

from mlchaos.experiments.load import wire
from mlchaos.experiments.load.bodies import Body, BodyError, BodySource, body_source
from mlchaos.experiments.load.spec import LoadSpec

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_SPEC = 2
BACKSTOP_SLACK_S = 10.0
"""How long past ``duration_s + stop_grace_s`` the SIGALRM backstop waits before killing a stuck child."""

logger = logging.getLogger("mlchaos.load.child")
_decode_json = json.JSONDecoder().decode


class Recorder:
    """Turns Locust's request events into wire rows and writes them to stdout one batch per flush."""

    def __init__(self, spec: LoadSpec, out: BinaryIO, users: Callable[[], int]) -> None:
        self._out = out
        self._users = users
        self._rows: list[wire.Row] = []
        self.sent = 0
        self._tier = wire.field_reader(spec.tier_field)
        self._confidence = wire.field_reader(spec.confidence_field)
        self._prediction = wire.field_reader(spec.prediction_field)
        self._parse_body = wire.needs_body(spec.tier_field, spec.confidence_field, spec.prediction_field)

    def on_request(
        self,
        response_time: float,
        response: Any,
        context: dict[str, Any],
        exception: BaseException | None,
        start_time: float,
        **_kwargs: Any,
    ) -> None:
        status: int = response.status_code if response is not None else 0
        tier = confidence = prediction = error = None
        if status:
            doc = None
            if self._parse_body and response.content:
                try:  # str first: json.loads(bytes) sniffs the encoding and costs ~3x more per response
                    doc = _decode_json(response.content.decode())
                except ValueError:  # UnicodeDecodeError included
                    error = "response body is not JSON"
            headers = response.headers
            tier = wire.as_text(self._tier(doc, headers))
            confidence = wire.as_float(self._confidence(doc, headers))
            prediction = wire.as_text(self._prediction(doc, headers))
            if isinstance(exception, LocustBadStatusCode):
                error = f"HTTP {status}"
            elif exception is not None:  # a status line arrived but the body did not
                error = wire.describe(exception)
        else:
            error = wire.describe(exception) if exception is not None else "no response"
        self._rows.append(
            [
                start_time,
                response_time,
                status,
                tier,
                confidence,
                prediction,
                error,
                context.get("label"),
            ]
        )

    def write(self, line: bytes) -> None:
        self._out.write(line)
        self._out.flush()

    def flush(self) -> None:
        rows, self._rows = self._rows, []
        self.sent += len(rows)
        self.write(wire.encode_batch(time.time(), self._users(), rows))

    def flush_every(self, interval_s: float) -> None:
        while True:
            gevent.sleep(interval_s)
            self.flush()


class StagedShape(LoadTestShape):
    """``spec.users`` until the first stage, then the latest stage whose ``at_s`` has passed; never ends."""

    def __init__(self, spec: LoadSpec) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._spec = spec

    def tick(self) -> tuple[int, float]:
        elapsed = self.get_run_time()  # type: ignore[no-untyped-call]
        users, rate = self._spec.users, self._spec.spawn_rate
        for stage in self._spec.stages:
            if stage.at_s <= elapsed:
                users, rate = stage.users, stage.spawn_rate
        return users, rate


class Gate:
    """Open until the deadline or a stop request; every user checks it right before each request.

    Locust stops users asynchronously, so without it a user whose wait ends in the few milliseconds between
    the deadline and Locust reaching it would still start a request: the gate makes ``duration_s`` exact.
    """

    def __init__(self) -> None:
        self.deadline = math.inf
        self.closed = False

    def is_open(self) -> bool:
        return not self.closed and time.time() < self.deadline


def user_class(spec: LoadSpec, source: BodySource, gate: Gate) -> type[FastHttpUser]:
    """A FastHttpUser posting the spec's bodies; each instance takes the next user index for its bodies."""
    headers = {"Content-Type": "application/json", "Accept": "application/json", **spec.headers}
    path = spec.path
    indices = itertools.count()

    class LoadUser(FastHttpUser):
        host = spec.base_url.rstrip("/")
        wait_time = between(spec.wait_min_s, spec.wait_max_s)
        network_timeout = spec.request_timeout_s
        connection_timeout = spec.request_timeout_s

        def __init__(self, environment: Environment) -> None:
            super().__init__(environment)
            self._bodies: Iterator[Body] = source.for_user(next(indices))

        @task
        def send(self) -> None:
            if not gate.is_open():
                return  # not StopUser: a user that ends itself races Locust's own stopping of it
            body, label = next(self._bodies)
            self.client.request("POST", path, data=body, headers=headers, context={"label": label})  # type: ignore[arg-type]

    return LoadUser


def _stop_on_eof(request_stop: Callable[[], None]) -> None:
    """Stop when stdin closes: the orchestrator holds its write end, so EOF means it is gone."""
    fd = sys.stdin.fileno()
    gevent.os.make_nonblocking(fd)
    while gevent.os.nb_read(fd, 4096):
        pass
    logger.warning("stdin closed (orchestrator gone?): stopping the load")
    request_stop()


def run(spec: LoadSpec, source: BodySource, out: BinaryIO, *, stop_on_stdin_eof: bool = False) -> int:
    """Run the load to its end and stream the records; returns the process exit code."""
    gate = Gate()
    env = Environment(
        user_classes=[user_class(spec, source, gate)],
        shape_class=StagedShape(spec) if spec.stages else None,
        host=spec.base_url.rstrip("/"),
        stop_timeout=spec.stop_grace_s,
    )
    runner = env.create_local_runner()
    recorder = Recorder(spec, out, lambda: runner.user_count)
    env.events.request.add_listener(recorder.on_request)  # type: ignore[no-untyped-call]

    stop = Event()

    def request_stop() -> None:
        gate.closed = True
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, request_stop)
    if stop_on_stdin_eof:
        gevent.spawn(_stop_on_eof, request_stop)
    signal.setitimer(signal.ITIMER_REAL, spec.duration_s + spec.stop_grace_s + BACKSTOP_SLACK_S)

    started = time.time()
    gate.deadline = started + spec.duration_s
    recorder.write(wire.encode_started(started))
    if spec.stages:
        runner.start_shape()
    else:
        runner.start(spec.users, spec.spawn_rate)
    flusher = gevent.spawn(recorder.flush_every, spec.flush_interval_s)
    stop.wait(timeout=max(0.0, gate.deadline - time.time()))
    gate.closed = True

    runner.quit()  # no new requests; in-flight ones get stop_grace_s (Environment.stop_timeout)
    flusher.kill()
    recorder.flush()
    recorder.write(wire.encode_done(recorder.sent))
    return _exit_code([(error["count"], error["msg"]) for error in runner.exceptions.values()])


def _exit_code(task_errors: Iterable[tuple[int, str]]) -> int:
    """1 if anything in the child itself failed (Locust only logs it and carries on), else 0.

    A task error is a request that was never sent (say a template render that fails on a rare random draw);
    the records are complete, but the load was not what the scenario asked for, so the run must not pass.
    """
    errors = sorted(task_errors, reverse=True)
    for count, message in errors[:5]:
        logger.error("load task failed %d times: %s", count, message)
    if locust_log.unhandled_greenlet_exception:
        logger.error("an exception escaped a Locust greenlet or listener (see above): records may be missing")
    return EXIT_FAILED if errors or locust_log.unhandled_greenlet_exception else EXIT_OK


def _claim_stdout() -> BinaryIO:
    """A private handle on the real stdout; fd 1 (``print``, C libraries) is redirected to stderr."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlchaos.experiments.load.child",
        description="Run Locust as described by a LoadSpec JSON file and stream request records on stdout.",
    )
    parser.add_argument("spec", type=Path, help="LoadSpec JSON file")
    parser.add_argument(
        "--stop-on-stdin-eof", action="store_true", help="stop when stdin closes (parent gone)"
    )
    args = parser.parse_args(argv)
    out = _claim_stdout()
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        spec = LoadSpec.model_validate_json(args.spec.read_bytes())
        source = body_source(spec)
    except (OSError, ValidationError, BodyError) as exc:
        print(f"mlchaos load child: invalid load spec {args.spec}: {exc}", file=sys.stderr)
        return EXIT_BAD_SPEC
    try:
        return run(spec, source, out, stop_on_stdin_eof=args.stop_on_stdin_eof)
    finally:
        out.close()


if __name__ == "__main__":
    sys.exit(main())
