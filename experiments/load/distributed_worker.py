"""A worker of a distributed load: it takes the master's spec (only for hosts it allows), runs the users of its
slot when told to start, and ships their request rows and final count back. The conversation and what each side
trusts are described in :mod:`~mlchaos.experiments.load.distributed`."""

from __future__ import annotations

# isort: off
import locust  # first: it monkey-patches for gevent, which must precede every other import

# isort: on
import logging
import os
import signal
from typing import Any

import gevent
from gevent.event import Event
from locust import log as locust_log
from locust.env import Environment
from locust.runners import WorkerRunner
from pydantic import ValidationError

from mlchaos.experiments.load import guard, secure_rpc, wire, worker_hosts
from mlchaos.experiments.load.bodies import BodyError, body_source
from mlchaos.experiments.load.conversation import (
    BUSY,
    DONE,
    HELLO,
    READY,
    REJECTED,
    REPORT_SLACK_S,
    ROWS,
    SPEC,
    START,
    mlchaos_version,
)
from mlchaos.experiments.load.mix import InputMixer
from mlchaos.experiments.load.spec import WORKER_EXIT_BUSY, LoadSpec
from mlchaos.experiments.load.team import TeamUsersError
from mlchaos.experiments.load.users import (
    BACKSTOP_SLACK_S,
    EXIT_FAILED,
    EXIT_OK,
    Gate,
    Recorder,
    fire_init,
    on_stop_request,
    users_for,
)

logger = logging.getLogger("mlchaos.load.distributed")


class _WorkerSession:
    """A worker's side of the conversation: configured by the master's spec, started by its start message."""

    def __init__(self, env: Environment, runner: WorkerRunner, allowed_hosts: tuple[str, ...]) -> None:
        self._env = env
        self._runner = runner
        self._allowed_hosts = allowed_hosts
        self._spec: LoadSpec | None = None
        self._gate = Gate()
        self._recorder: Recorder | None = None
        self._flusher: gevent.Greenlet | None = None
        self._slot, self._slots = 0, 1
        self._reported = False
        self.exit_code = EXIT_OK

    def on_spec(self, msg: Any, **_: Any) -> None:
        offered = msg.data.get("version")
        if offered != mlchaos_version():
            self._reject(
                f"the worker runs mlchaos {mlchaos_version()} but the master runs {offered}: "
                "run the same mlchaos version (image) for both"
            )
            return
        if self._spec is not None:
            return  # one spec per worker process
        try:
            spec = LoadSpec.model_validate_json(msg.data["spec"])
            refused = worker_hosts.refusal(spec, self._allowed_hosts)
            if refused is not None:
                self._reject(refused)
                return
            source, mixer = body_source(spec), InputMixer(spec)
            self._env.user_classes = users_for(spec, source, mixer, self._gate, user_index=self._user_index)
        except (ValidationError, BodyError, TeamUsersError) as exc:
            self._reject(f"invalid load spec: {exc}")
            return
        self._spec = spec
        recorder = self._recorder = Recorder(spec, ship=self._ship)
        self._env.events.request.add_listener(recorder.on_request)  # type: ignore[no-untyped-call]
        fire_init(self._env, self._runner)
        self._runner.send_message(READY, {"pid": os.getpid()})

    def on_start(self, msg: Any, **_: Any) -> None:
        assert self._spec is not None and self._recorder is not None
        spec = self._spec
        self._slot, self._slots = int(msg.data["slot"]), int(msg.data["slots"])
        self._gate.started = float(msg.data["started"])
        self._gate.deadline = self._gate.started + spec.duration_s
        self._flusher = self._recorder.flush_every(spec.flush_interval_s)
        signal.setitimer(
            signal.ITIMER_REAL, spec.duration_s + spec.stop_grace_s + REPORT_SLACK_S + BACKSTOP_SLACK_S
        )

    def on_busy(self, **_: Any) -> None:
        logger.warning(
            "the master is already running a load with other workers; this worker is not needed now"
        )
        self.exit_code = WORKER_EXIT_BUSY
        gevent.spawn(self._runner.quit)

    def on_stopping(self, **_: Any) -> None:
        self._gate.closed = True

    def on_stop(self, **_: Any) -> None:
        """Users stopped (in-flight requests had stop_grace_s): ship the last rows and the count, once; then
        leave."""
        if self._recorder is None or self._reported:
            return
        self._reported = True
        if self._flusher is not None:
            self._flusher.kill()
        self._recorder.record_unfinished()  # requests killed by the stop: timeout rows, not lost
        self._recorder.flush()
        refused = guard.refused_hosts()
        if refused:
            logger.error("refused requests to hosts the target does not allow: %s", dict(refused))
        failed = bool(locust_log.unhandled_greenlet_exception or refused)
        self._runner.send_message(DONE, {"sent": self._recorder.sent, "failed": failed})
        signal.setitimer(signal.ITIMER_REAL, 0)
        # One load per worker process: Locust's master forgets a stopped worker (never sends it "quit"), and a
        # fresh process per load means no state carries over (``mlchaos load-worker`` starts the next one).
        gevent.spawn(self._runner.quit)

    def _user_index(self, spawned: int) -> int:
        return spawned * self._slots + self._slot

    def _ship(self, rows: list[wire.Row]) -> None:
        if rows:
            self._runner.send_message(ROWS, rows)  # type: ignore[arg-type]

    def _reject(self, reason: str) -> None:
        logger.error("%s", reason)
        self.exit_code = EXIT_FAILED
        self._runner.send_message(REJECTED, {"reason": reason})
        gevent.spawn(self._runner.quit)


def run_worker(
    master_host: str,
    master_port: int,
    *,
    secret: str,
    allowed_hosts: tuple[str, ...],
    stop_on_stdin_eof: bool = False,
) -> int:
    """Serve the master at ``master_host:master_port`` for one load; returns when it is over (or on a stop).

    ``secret`` is the load secret the master must prove it holds; ``allowed_hosts`` (besides loopback) the hosts
    a spec may send requests to. Exit status: 0 after a load (or a stop request), ``WORKER_EXIT_BUSY`` if the
    master was already running one without this worker, 1 if the master did not hold the secret, the spec was
    unusable here or something failed.
    """
    stopped = Event()
    runners: list[WorkerRunner] = []

    def request_stop() -> None:
        stopped.set()
        for runner in runners:
            gevent.spawn(runner.quit)

    on_stop_request(request_stop, stdin_eof=stop_on_stdin_eof)
    keys = secure_rpc.Keys.from_secret(secret)
    # Locust's own connect waits five minutes for an answer whoever listens; this one knows who does at once
    try:
        if not secure_rpc.handshake(master_host, master_port, keys, stopped):
            return EXIT_OK
    except secure_rpc.MasterRefused as exc:
        logger.error("not taking a load spec from %s:%d: %s", master_host, master_port, exc)
        return EXIT_FAILED
    secure_rpc.install(keys)
    # Locust's global events, as the master's: a locustfile registers its hooks there
    env = Environment(user_classes=[], events=locust.events)
    try:
        runner = env.create_worker_runner(master_host, master_port)
    except ConnectionError:
        logger.error(
            "the load master at %s:%d took the connection but never answered", master_host, master_port
        )
        return EXIT_FAILED
    runners.append(runner)
    session = _WorkerSession(env, runner, allowed_hosts)
    runner.register_message(SPEC, session.on_spec)
    runner.register_message(START, session.on_start)
    runner.register_message(BUSY, session.on_busy)
    env.events.test_stopping.add_listener(session.on_stopping)  # type: ignore[no-untyped-call]
    env.events.test_stop.add_listener(session.on_stop)  # type: ignore[no-untyped-call]
    if stopped.is_set():
        gevent.spawn(runner.quit)
    # not on connecting: the ack and the master's next message can arrive before the handlers are registered
    runner.send_message(HELLO)
    runner.greenlet.join()
    if locust_log.unhandled_greenlet_exception:
        return EXIT_FAILED
    return session.exit_code
