"""Locust building blocks of the load child: the users (mlchaos' own, or a team's locustfile), the recorder that
turns Locust's request events into wire rows, the load shape and the gate that makes ``duration_s`` exact.

Imported only by the child's modules (:mod:`~mlchaos.experiments.load.child`,
:mod:`~mlchaos.experiments.load.distributed`): importing Locust monkey-patches the process for gevent.

One row per request is built in a ``request`` event listener, not with ``catch_response``: the listener gets
the response, the exception, the wall-clock start and Locust's latency already computed, so recording costs a
list and a JSON parse per request and no context manager — and it records every request any user makes
through a Locust client, a team's users included. A request's context (Locust's ``context=``) carries its
tags: ``mlchaos_label`` (a canary's true label: a team's users may set it too), and for mlchaos' own input
faults ``mlchaos_input``, ``mlchaos_pair`` and ``mlchaos_expected``.
"""

from __future__ import annotations

# isort: off
import locust  # first: it monkey-patches for gevent, which must precede every other import

# isort: on
import itertools
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
from locust import FastHttpUser, LoadTestShape, User, between, task
from locust import log as locust_log
from locust.env import Environment
from locust.runners import Runner

from mlchaos.experiments.http_bounds import DeadlinePassed
from mlchaos.experiments.inputs.outgoing import JSON, Outgoing
from mlchaos.experiments.load import bounded, guard, wire
from mlchaos.experiments.load.answers import AnswerReader
from mlchaos.experiments.load.bodies import BodySource
from mlchaos.experiments.load.mix import InputMixer
from mlchaos.experiments.load.spec import LoadSpec
from mlchaos.experiments.load.team import team_user_classes

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_SPEC = 2
PER_READ_SLACK_S = 1.0
"""The client's own per-read timeouts are the total deadline plus this: the deadline always comes first, so a
timed-out request reads the same however it stalled."""
BACKSTOP_SLACK_S = 10.0
"""How long past ``duration_s + stop_grace_s`` the SIGALRM backstop waits before killing a stuck process."""

logger = logging.getLogger("mlchaos.load.child")


class Recorder:
    """Turns Locust's request events into wire rows and ships them one batch per flush: to stdout in a local
    load, to the master in a worker. A request that ended without its event (killed by the stop while it waited)
    is a timeout row too (:mod:`~mlchaos.experiments.load.bounded`): every request sent has its row."""

    def __init__(self, spec: LoadSpec, ship: Callable[[list[wire.Row]], None]) -> None:
        self._ship = ship
        self._rows: list[wire.Row] = []
        self.sent = 0
        self._answer = AnswerReader(spec)
        self._in_flight = bounded.in_flight()
        self._in_flight.unfinished = self._on_unfinished

    def on_request(
        self,
        response_time: float,
        response: Any,
        context: dict[str, Any],
        exception: BaseException | None,
        start_time: float,
        **_kwargs: Any,
    ) -> None:
        # 0 without a response: FastHttpUser's ErrorResponse and HttpUser's (requests) error response say 0
        status: int = (response.status_code or 0) if response is not None else 0
        pending = self._in_flight.claim()
        if pending is not None and pending.expired:  # whatever the client made of it (ReadTimeout, …)
            exception = DeadlinePassed(self._in_flight.deadline_s)
        if status:
            tier, confidence, prediction, score, flagged, shed, error = self._answer.read(
                status, response, exception
            )
        else:
            tier = confidence = prediction = score = flagged = shed = None
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
                context.get("mlchaos_label"),
                context.get("mlchaos_input"),
                context.get("mlchaos_pair"),
                context.get("mlchaos_expected"),
                score,
                flagged,
                shed,
            ]
        )

    def _on_unfinished(self, pending: bounded.Pending, elapsed_s: float, error: str) -> None:
        context = pending.context
        self._rows.append(
            [
                pending.start,
                elapsed_s * 1000,
                0,
                None,
                None,
                None,
                error[: wire.ERROR_MAX_CHARS],
                context.get("mlchaos_label"),
                context.get("mlchaos_input"),
                context.get("mlchaos_pair"),
                context.get("mlchaos_expected"),
                None,
                None,
                None,
            ]
        )

    def record_unfinished(self) -> None:
        """After the users stopped: a timeout row for each request still waiting for its answer."""
        self._in_flight.record_unfinished()

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
    """Open until the deadline or a stop request; checked right before each request (by mlchaos' own user, and
    for every user by :mod:`~mlchaos.experiments.load.guard`).

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
    """The Locust environment of the spec's users: run here, or handed out to workers by a master.

    Its events are Locust's global ones, as under ``locust -f``: a team's locustfile registers its hooks there.
    Raises :class:`~mlchaos.experiments.load.team.TeamUsersError` if a locustfile's users cannot be had.
    """
    return Environment(
        user_classes=users_for(spec, source, mixer, gate),
        shape_class=StagedShape(spec) if spec.stages else None,
        host=spec.base_url.rstrip("/"),
        stop_timeout=spec.stop_grace_s,
        events=locust.events,
    )


def users_for(
    spec: LoadSpec,
    source: BodySource,
    mixer: InputMixer,
    gate: Gate,
    user_index: Callable[[int], int] = lambda spawned: spawned,
) -> list[type[User]]:
    """The user classes that send the spec's load: a team's locustfile's, or mlchaos' own (:func:`user_class`).

    Also puts the gate and the host checks into this process's HTTP clients (:mod:`~.guard`), and for a team's
    users the target's headers, which mlchaos' own user sends itself; and the deadline, the answer cap and the
    tracking of requests in flight (:mod:`~.bounded`), for every user.
    """
    team = spec.locustfile is not None
    # bounded first: guard's checks then run before a request is tracked (a refused one was never sent)
    bounded.bound_requests(spec.request_timeout_s, spec.max_response_bytes)
    guard.guard_requests(
        gate.is_open,
        spec.base_url,
        allowed_hosts=spec.allowed_hosts,
        allow_production=spec.allow_production,
        headers=spec.headers if team else {},
    )
    if spec.locustfile is not None:
        return team_user_classes(spec.locustfile)
    return [user_class(spec, source, mixer, gate, user_index)]


def fire_init(env: Environment, runner: Runner) -> None:
    """Locust's ``init`` event, fired as ``locust -f`` fires it once the runner exists (a locustfile's setup)."""
    env.events.init.fire(environment=env, runner=runner, web_ui=None)  # type: ignore[no-untyped-call]


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
        # the request's total deadline (bounded) ends it first; these per-read ones only back it up
        network_timeout = spec.request_timeout_s + PER_READ_SLACK_S
        connection_timeout = spec.request_timeout_s + PER_READ_SLACK_S

        def __init__(self, environment: Environment) -> None:
            super().__init__(environment)
            index = user_index(next(indices))
            self._requests: Iterator[Outgoing] = mixer.for_user(index, source.for_user(index), gate.elapsed)

        @task
        def send(self) -> None:
            if not gate.is_open():
                return  # not StopUser: a user that ends itself races Locust's own stopping of it
            out = next(self._requests)
            context = {
                "mlchaos_label": out.label,
                "mlchaos_input": out.input,
                "mlchaos_pair": out.pair,
                "mlchaos_expected": out.expected,
            }
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


def exit_code(task_errors: Iterable[tuple[int, str]], *, team: bool = False) -> int:
    """1 if anything in the child itself failed (Locust only logs it and carries on), else 0.

    A task error of mlchaos' own user is a request that was never sent (say a template render that fails on a
    rare random draw); the records are complete, but the load was not what the scenario asked for, so the run
    must not pass. A ``team``'s tasks raise for their own reasons — often on purpose, at an answer a fault made
    bad — after the request was sent and recorded: logged, not failed. A request refused for its host always
    fails the load: the team's users did not run as written.
    """
    errors = sorted(task_errors, reverse=True)
    for count, message in errors[:5]:
        if team:
            logger.warning("the locustfile's tasks raised %d times: %s", count, message)
        else:
            logger.error("load task failed %d times: %s", count, message)
    refused = guard.refused_hosts()
    for host, count in refused.most_common():
        logger.error(
            "refused %d requests to %s (see the task errors above for why)",
            count,
            host,
        )
    if locust_log.unhandled_greenlet_exception:
        logger.error("an exception escaped a Locust greenlet or listener (see above): records may be missing")
    failed = (errors and not team) or refused or locust_log.unhandled_greenlet_exception
    return EXIT_FAILED if failed else EXIT_OK


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
