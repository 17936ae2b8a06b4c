"""Locust building blocks of the load child: the user class, the recorder that turns Locust's request events into
wire rows, the load shape and the gate that makes ``duration_s`` exact.

Imported only by the child's modules (:mod:`~mlchaos.experiments.load.child`,
:mod:`~mlchaos.experiments.load.distributed`): importing Locust monkey-patches the process for gevent.

One row per request is built in a ``request`` event listener, not with ``catch_response``: the listener gets
the response, the exception, the wall-clock start and Locust's latency already computed, so recording costs a
list and a JSON parse per request and no context manager.
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401 - first: it monkey-patches for gevent, which must precede every other import

# isort: on
import itertools
import json
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

import gevent
import gevent.monkey
import gevent.os
from gevent.event import Event
from locust import FastHttpUser, LoadTestShape, between, task
from locust import log as locust_log
from locust.contrib.fasthttp import LocustBadStatusCode
from locust.env import Environment

from mlchaos.experiments.inputs.outgoing import JSON, Outgoing
from mlchaos.experiments.load import wire
from mlchaos.experiments.load.bodies import BodySource
from mlchaos.experiments.load.mix import InputMixer
from mlchaos.experiments.load.spec import LoadSpec

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_SPEC = 2
BACKSTOP_SLACK_S = 10.0
"""How long past ``duration_s + stop_grace_s`` the SIGALRM backstop waits before killing a stuck process."""

logger = logging.getLogger("mlchaos.load.child")
_decode_json = json.JSONDecoder().decode


class Recorder:
    """Turns Locust's request events into wire rows and ships them one batch per flush: to stdout in a local
    load, to the master in a worker."""

    def __init__(self, spec: LoadSpec, ship: Callable[[list[wire.Row]], None]) -> None:
        self._ship = ship
        self._rows: list[wire.Row] = []
        self.sent = 0
        self._tier = wire.field_reader(spec.tier_field)
        self._confidence = wire.field_reader(spec.confidence_field)
        self._prediction = wire.field_reader(spec.prediction_field)
        self._score = wire.field_reader(spec.score_field)
        self._review = wire.field_reader(spec.review_field)
        self._shed = wire.field_reader(spec.shed_field)
        self._review_header = wire.field_reader("header:X-Review")
        self._shed_header = wire.field_reader("header:X-Shed")
        self._parse_body = wire.needs_body(
            spec.tier_field,
            spec.confidence_field,
            spec.prediction_field,
            spec.score_field,
            spec.review_field,
            spec.shed_field,
        )

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
        tier = confidence = prediction = error = score = flagged = shed = None
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
            score = wire.as_float(self._score(doc, headers))
            flagged = wire.as_flag(self._review(doc, headers))
            if flagged is None and self._review_header(doc, headers) is not None:
                flagged = wire.as_flag(self._review_header(doc, headers))
            shed = wire.as_flag(self._shed(doc, headers))
            if not shed and self._shed_header(doc, headers) is not None:
                shed = wire.as_flag(self._shed_header(doc, headers))
            if isinstance(exception, LocustBadStatusCode):
                # bad_input_handling wants every rejection to explain itself in a JSON object
                json_error = isinstance(doc, dict) or not 400 <= status < 500
                error = f"HTTP {status}" if json_error else f"HTTP {status}: body is not JSON"
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
                context.get("input"),
                context.get("pair"),
                context.get("expected"),
                score,
                flagged,
                shed,
            ]
        )

    def flush(self) -> None:
        rows, self._rows = self._rows, []
        self.sent += len(rows)
        self._ship(rows)

    def flush_every(self, interval_s: float) -> gevent.Greenlet:
        """Flush every ``interval_s`` in a greenlet of its own (kill it before the final :meth:`flush`)."""

        def loop() -> None:
            while True:
                gevent.sleep(interval_s)
                self.flush()

        return gevent.spawn(loop)


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
        self.started = math.inf
        self.deadline = math.inf
        self.closed = False
        self.stopped = Event()
        """Set by :meth:`close`: a stop was requested before the deadline."""

    def close(self) -> None:
        """No request starts from now on (a stop request: a signal, the parent gone, a lost worker)."""
        self.closed = True
        self.stopped.set()

    def wait(self) -> None:
        """Until the deadline or a stop request, whichever comes first."""
        self.stopped.wait(timeout=max(0.0, self.deadline - time.time()))
        self.closed = True

    def elapsed(self) -> float:
        """Seconds since the load started (negative before): the clock input windows are placed on."""
        return time.time() - self.started

    def is_open(self) -> bool:
        return not self.closed and time.time() < self.deadline


def load_environment(spec: LoadSpec, source: BodySource, mixer: InputMixer, gate: Gate) -> Environment:
    """The Locust environment of the spec's users: run here, or handed out to workers by a master."""
    return Environment(
        user_classes=[user_class(spec, source, mixer, gate)],
        shape_class=StagedShape(spec) if spec.stages else None,
        host=spec.base_url.rstrip("/"),
        stop_timeout=spec.stop_grace_s,
    )


def user_class(
    spec: LoadSpec,
    source: BodySource,
    mixer: InputMixer,
    gate: Gate,
    user_index: Callable[[int], int] = lambda spawned: spawned,
) -> type[FastHttpUser]:
    """A FastHttpUser posting the spec's bodies, with its input faults mixed in.

    ``user_index`` maps the n-th user this process spawns to its index in the whole load (which picks its bodies
    and its input draws); a worker interleaves its users with the other workers' so that together they use the
    same indices one process would."""
    headers = {"Content-Type": "application/json", "Accept": "application/json", **spec.headers}
    # a mutated content type replaces the JSON one; built once per type, not per request
    headers_for: dict[str, dict[str, str]] = {}
    path = spec.path
    indices = itertools.count()

    class LoadUser(FastHttpUser):
        host = spec.base_url.rstrip("/")
        wait_time = between(spec.wait_min_s, spec.wait_max_s)
        network_timeout = spec.request_timeout_s
        connection_timeout = spec.request_timeout_s

        def __init__(self, environment: Environment) -> None:
            super().__init__(environment)
            index = user_index(next(indices))
            self._requests: Iterator[Outgoing] = mixer.for_user(index, source.for_user(index), gate.elapsed)

        @task
        def send(self) -> None:
            if not gate.is_open():
                return  # not StopUser: a user that ends itself races Locust's own stopping of it
            out = next(self._requests)
            context = {"label": out.label, "input": out.input, "pair": out.pair, "expected": out.expected}
            self.client.request(
                "POST",
                path,
                data=out.body,  # type: ignore[arg-type]
                headers=headers if out.content_type == JSON else _headers(out.content_type),
                context=context,
            )

    def _headers(content_type: str) -> dict[str, str]:
        if content_type not in headers_for:
            headers_for[content_type] = {**headers, "Content-Type": content_type}
        return headers_for[content_type]

    return LoadUser


def exit_code(task_errors: Iterable[tuple[int, str]]) -> int:
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


def write_line(out: BinaryIO, line: bytes) -> None:
    """One wire line to the orchestrator, flushed at once (it reads them live)."""
    out.write(line)
    out.flush()


def on_stop_request(request_stop: Callable[[], None], *, stdin_eof: bool) -> None:
    """Call ``request_stop`` on SIGTERM/SIGINT and, with ``stdin_eof``, when stdin closes (the parent is gone)."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, request_stop)
    if stdin_eof:
        gevent.spawn(_stop_on_eof, request_stop)


def exit_when_orphaned(parent: int, grace_s: float) -> None:
    """Exit ``grace_s`` seconds after the process ``parent`` is no longer this one's parent (it died), whatever
    this process is doing then. The parent names itself: one that died before we got here is noticed too.

    Stdin EOF is the graceful signal; this is the guarantee. It runs in a native thread, not a greenlet, so it
    fires even if the whole gevent loop is stuck (say in a write to a pipe nobody reads any more) — nobody is
    left to read the records anyway.
    """
    sleep = gevent.monkey.get_original("time", "sleep")
    start_new_thread = gevent.monkey.get_original("_thread", "start_new_thread")

    def watch() -> None:
        while os.getppid() == parent:
            sleep(0.5)
        sleep(grace_s)
        os._exit(EXIT_FAILED)

    start_new_thread(watch, ())


def _stop_on_eof(request_stop: Callable[[], None]) -> None:
    """Stop when stdin closes: the parent holds its write end, so EOF means it is gone."""
    fd = sys.stdin.fileno()
    gevent.os.make_nonblocking(fd)
    while gevent.os.nb_read(fd, 4096):
        pass
    logger.warning("stdin closed (parent gone?): stopping the load")
    request_stop()
