"""Distributed load: a Locust master in the load child hands the users to N workers; each worker sends its users'
requests and ships every request row back to the master, which writes them to the orchestrator exactly as a
local load does — so the verifiers get the same per-request data whichever way the load ran.

Workers are local processes the master starts on loopback, or processes started elsewhere (the chart's worker
pods, ``mlchaos load-worker``) that connect to ``worker_bind``. Either way a worker is given nothing but the
master's address and the load secret: the spec travels over the Locust connection, so a worker pod needs no copy
of the scenario.

Trust: master and workers prove to each other that they hold the load secret, and everything between them is
encrypted (:mod:`~mlchaos.experiments.load.secure_rpc`); local workers get a secret generated for the load, in
their environment. A peer without it is refused before Locust sees a message, and named in the output. Among
authenticated peers the master still believes only its team: rows and ``done`` count only from a worker that was
handed users, each batch is checked (:mod:`~mlchaos.experiments.load.checked_rows`), and a message claiming to
come from another worker than the connection it arrived on is dropped. A worker runs a spec only when every host
it sends requests to is one its own configuration allows (:mod:`~mlchaos.experiments.load.worker_hosts`).

The conversation, in Locust custom messages (one connection per worker, in order)::

    worker → master  mlchaos_hello     null                       once connected, its handlers in place
    master → worker  mlchaos_spec      {"version", "spec"}        the answer to a hello
                     mlchaos_busy      null                       the answer once the load has started
    worker → master  mlchaos_ready     {"pid"}                    spec accepted, user class built
                     mlchaos_rejected  {"reason"}                 spec unusable here (another mlchaos version, ...)
    master → worker  mlchaos_start     {"started", "slot", "slots"}   just before the users are spawned
    worker → master  mlchaos_rows      [ROW, ...]                 every flush_interval_s
                     mlchaos_done      {"sent", "failed"}         after its users stopped and its last rows left

The team is every worker ready at the start. A team member that is lost before it reports ``done`` fails the
load: its last rows are gone, and a verdict on partial data would be wrong. Lost means its process exited (a local
worker: noticed at once) or its heartbeats stopped for :data:`MISSING_GRACE_S` (a worker elsewhere; a shorter gap
is a busy machine, and its rows still arrive).

With a team's locustfile the spec carries its text (at most ``MAX_LOCUSTFILE_BYTES``), so a worker imports the
same users; modules it imports from its own folder must be installed where the worker runs.

``slot``/``slots`` interleave the workers' user indices, so N workers together use the indices one process would
(which pick each user's bodies and input draws).
"""

from __future__ import annotations

# isort: off
import locust  # first: it monkey-patches for gevent, which must precede every other import

# isort: on
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any, BinaryIO

import gevent
from gevent.event import Event
from locust import log as locust_log
from locust.env import Environment
from locust.exception import RPCError
from locust.rpc import Message
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner
from pydantic import ValidationError

from mlchaos.experiments.load import checked_rows, guard, load_secret, secure_rpc, wire, worker_hosts
from mlchaos.experiments.load.bodies import BodyError, BodySource, body_source
from mlchaos.experiments.load.mix import InputMixer
from mlchaos.experiments.load.spec import WORKER_EXIT_BUSY, LoadSpec, parse_host_port
from mlchaos.experiments.load.team import TeamUsersError
from mlchaos.experiments.load.users import (
    BACKSTOP_SLACK_S,
    EXIT_BAD_SPEC,
    EXIT_FAILED,
    EXIT_OK,
    Gate,
    Recorder,
    exit_code,
    fire_init,
    load_environment,
    on_stop_request,
    users_for,
    write_line,
)

HELLO = "mlchaos_hello"
SPEC = "mlchaos_spec"
READY = "mlchaos_ready"
REJECTED = "mlchaos_rejected"
START = "mlchaos_start"
BUSY = "mlchaos_busy"
ROWS = "mlchaos_rows"
DONE = "mlchaos_done"

LOOPBACK = "127.0.0.1"
MISSING_GRACE_S = 10.0
"""How long a worker elsewhere may miss its heartbeats (Locust marks it missing after 3 s) before it counts as lost."""
REPORT_SLACK_S = 5.0
"""How long past ``stop_grace_s`` the master waits for the workers' last rows and counts."""
_POLL_S = 0.05

logger = logging.getLogger("mlchaos.load.distributed")
Fail = Callable[[str], None]
"""Records a problem that fails the load, and stops it."""


def mlchaos_version() -> str:
    try:
        return version("mlchaos")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


# -- master -------------------------------------------------------------------------------------------------------


@dataclass
class _Fleet:
    """The master's view of its workers."""

    ready: list[str] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)
    """Each worker's process id, as it says (a local worker's exit is then noticed at once)."""
    team: list[str] = field(default_factory=list)
    done: dict[str, tuple[int, bool]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class _LocalWorkers:
    """Worker processes the master starts itself, connected to it over loopback.

    Each one's stdin is a pipe held here: closing it (or this process dying) makes the worker stop.
    """

    def __init__(self, count: int, port: int, secret: str, hosts: tuple[str, ...]) -> None:
        command = [
            sys.executable, "-m", "mlchaos.experiments.load.child",
            "--worker", f"{LOOPBACK}:{port}", "--stop-on-stdin-eof", "--parent", str(os.getpid()),
        ]  # fmt: skip
        # the secret in the environment, not on the command line: every user can read a command line
        env = {**os.environ, load_secret.SECRET_ENV: secret, worker_hosts.ALLOW_HOSTS_ENV: ",".join(hosts)}
        env.pop(load_secret.SECRET_FILE_ENV, None)
        self._procs: list[subprocess.Popen[bytes]] = []
        for _ in range(count):
            self._procs.append(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=sys.stderr, env=env))

    def exited(self) -> list[str]:
        """One line per worker process that has ended."""
        return [
            f"load worker process {proc.pid} exited with status {proc.returncode}"
            for proc in self._procs
            if proc.poll() is not None
        ]

    def has_exited(self, pid: int | None) -> bool:
        """Whether the worker process ``pid`` (one of these) has ended."""
        return any(proc.pid == pid and proc.poll() is not None for proc in self._procs)

    def stop(self, timeout_s: float = 5.0) -> None:
        """After the master's quit message the workers end by themselves; closing stdin stops any that did not
        get it, and a worker still there at ``timeout_s`` is killed."""
        deadline = time.monotonic() + timeout_s
        self._wait(deadline - timeout_s / 2)
        for proc in self._procs:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
        self._wait(deadline)
        for proc in self._procs:
            if proc.poll() is None:
                logger.warning("load worker %d did not stop; killing it", proc.pid)
                proc.kill()
                proc.wait()

    def _wait(self, until: float) -> None:
        for proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.0, until - time.monotonic()))


def run_master(
    spec: LoadSpec, source: BodySource, mixer: InputMixer, out: BinaryIO, *, stop_on_stdin_eof: bool = False
) -> int:
    """Run the load through ``spec.workers`` workers and stream their records; returns the exit code."""
    try:
        secret = load_secret.generate() if spec.worker_bind is None else load_secret.required()
    except load_secret.LoadSecretError as exc:
        logger.error("cannot listen for load workers: %s", exc)
        return EXIT_BAD_SPEC
    refused = secure_rpc.RefusedPeers()
    secure_rpc.install(secure_rpc.Keys.from_secret(secret), refused)
    gate = Gate()
    env = load_environment(spec, source, mixer, gate)
    host, port = parse_host_port(spec.worker_bind) if spec.worker_bind else (LOOPBACK, 0)
    try:
        runner = env.create_master_runner(host, port)
    except RPCError as exc:
        logger.error("cannot listen for load workers on %s:%d: %s", host, port, exc)
        return EXIT_FAILED
    port = runner.server.port
    fire_init(env, runner)
    fleet = _Fleet()

    def fail(problem: str) -> None:
        if problem not in fleet.problems:
            logger.error("%s", problem)
            fleet.problems.append(problem)
        gate.close()

    _listen(runner, spec, fleet, gate, out, fail)
    on_stop_request(gate.close, stdin_eof=stop_on_stdin_eof)
    local = None
    if spec.worker_bind is None:
        local = _LocalWorkers(spec.workers, port, secret, worker_hosts.spec_hosts(spec))
    try:
        watchdog = gevent.spawn(_watch, runner, fleet, local, fail)
        if not _gather(runner, spec, fleet, gate.stopped, fail, f"{host}:{port}"):
            watchdog.kill()
            runner.quit()
            return EXIT_FAILED
        fleet.team = [client for client in fleet.ready if client in runner.clients]
        started = gate.started = time.time()
        gate.deadline = started + spec.duration_s
        for slot, client in enumerate(fleet.team):
            runner.send_message(
                START, {"started": started, "slot": slot, "slots": len(fleet.team)}, client_id=client
            )
        write_line(out, wire.encode_started(started))
        signal.setitimer(
            signal.ITIMER_REAL, spec.duration_s + spec.stop_grace_s + REPORT_SLACK_S + BACKSTOP_SLACK_S
        )
        if spec.stages:
            runner.start_shape()
        else:
            runner.start(spec.users, spec.spawn_rate)
        gate.wait()

        stopping = gevent.spawn(runner.stop)  # sends "stop": workers stop their users, then ship the rest
        report_by = time.monotonic() + spec.stop_grace_s + REPORT_SLACK_S
        while set(fleet.team) - fleet.done.keys() and time.monotonic() < report_by:
            gevent.sleep(_POLL_S)
        stopping.kill()
        watchdog.kill()
        runner.quit()
        for client in fleet.team:
            if client not in fleet.done:
                fail(f"load worker {client} never reported its final count: its last records are missing")
            elif fleet.done[client][1]:
                fail(f"load worker {client} failed (see its log above): records may be missing")
        write_line(out, wire.encode_done(sum(sent for sent, _ in fleet.done.values())))
        task_errors = [(error["count"], error["msg"]) for error in runner.exceptions.values()]
        code = exit_code(task_errors, team=spec.locustfile is not None)
        return EXIT_FAILED if fleet.problems else code
    finally:
        refused.summarise()
        if local is not None:
            local.stop()


def _listen(
    runner: MasterRunner, spec: LoadSpec, fleet: _Fleet, gate: Gate, out: BinaryIO, fail: Fail
) -> None:
    """The master's side of the conversation (see the module docstring)."""
    offer = {"version": mlchaos_version(), "spec": spec.model_dump_json()}
    ignored: set[tuple[str, str]] = set()

    def from_team(msg: Any) -> bool:
        """Rows and counts are believed only from a worker that was handed users; others are said and dropped."""
        if msg.node_id in fleet.team:
            return True
        if (msg.node_id, msg.type) not in ignored:
            ignored.add((msg.node_id, msg.type))
            logger.error("ignored %s from %s, which is not one of this load's workers", msg.type, msg.node_id)
        return False

    def on_hello(msg: Any, **_: Any) -> None:
        if fleet.team:
            runner.send_message(BUSY, client_id=msg.node_id)
        else:
            runner.send_message(SPEC, offer, client_id=msg.node_id)

    def on_ready(msg: Any, **_: Any) -> None:
        if msg.node_id not in fleet.ready:
            fleet.ready.append(msg.node_id)
            fleet.pids[msg.node_id] = int(msg.data["pid"])

    def on_rejected(msg: Any, **_: Any) -> None:
        fail(f"load worker {msg.node_id} rejected the load: {msg.data['reason']}")

    def on_rows(msg: Any, **_: Any) -> None:
        if not from_team(msg) or msg.node_id in fleet.done:
            return
        try:
            rows = checked_rows.checked(
                msg.data, started=gate.started, duration_s=spec.duration_s, stop_grace_s=spec.stop_grace_s
            )
        except checked_rows.BadRows as exc:
            fail(
                f"load worker {msg.node_id} sent rows that cannot be true, none of the batch recorded: {exc}"
            )
            return
        write_line(out, wire.encode_batch(time.time(), runner.user_count, rows))

    def on_done(msg: Any, **_: Any) -> None:
        if not from_team(msg) or msg.node_id in fleet.done:
            return
        data = msg.data if isinstance(msg.data, dict) else {}
        sent, failed = data.get("sent"), data.get("failed")
        if type(sent) is not int or sent < 0 or not isinstance(failed, bool):
            fail(f"load worker {msg.node_id} sent a final count that is not one: {msg.data!r:.80}")
            return
        fleet.done[msg.node_id] = (sent, failed)

    _admit(runner, fleet)
    runner.register_message(HELLO, on_hello)
    runner.register_message(READY, on_ready)
    runner.register_message(REJECTED, on_rejected)
    runner.register_message(ROWS, on_rows)
    runner.register_message(DONE, on_done)


def _admit(runner: MasterRunner, fleet: _Fleet) -> None:
    """What reaches Locust's master (and the handlers above) from a worker's connection.

    - A message that names another worker than the connection it came on is dropped: Locust believes the
      sender named in a message (``quit`` and ``client_stopped`` remove that worker), and only the connection's
      id is the authenticated one.
    - Once the load runs, a worker that connects is acknowledged but never added to Locust's workers: Locust
      would hand it a share of the users at once — before our "busy" answer could reach it — and its users would
      run without the load's clock. Then only its hello (answered "busy") gets through; whatever else it sends
      (a ``quit`` included) cannot touch the team's load.

    Wrapping the master's receive is the one place this can be decided before Locust acts on a message.
    """
    server = runner.server
    receive = server.recv_from_client
    impostors: set[str] = set()

    def receive_from_team() -> tuple[str, Message]:
        while True:
            client_id, msg = receive()  # type: ignore[no-untyped-call]
            if msg.node_id != client_id:
                if client_id not in impostors:  # once: it may well keep trying
                    impostors.add(client_id)
                    logger.error("dropped %s from %s claiming to be %r", msg.type, client_id, msg.node_id)
                continue
            if fleet.team and client_id not in fleet.team:
                if msg.type == "client_ready":
                    server.send_to_client(Message("ack", {"index": -1}, client_id))  # type: ignore[no-untyped-call]
                if msg.type not in (HELLO, ROWS, DONE):  # rows and done are ignored aloud by their handlers
                    continue
            return client_id, msg

    server.recv_from_client = receive_from_team  # type: ignore[method-assign]


def _gather(runner: MasterRunner, spec: LoadSpec, fleet: _Fleet, stop: Event, fail: Fail, where: str) -> bool:
    """Wait until ``spec.workers`` workers accepted the spec; False (after saying why) if they did not."""
    deadline = time.monotonic() + spec.workers_timeout_s
    while not stop.is_set():
        if sum(client in runner.clients for client in fleet.ready) >= spec.workers:
            return True
        if time.monotonic() > deadline:
            fail(
                f"only {len(fleet.ready)} of {spec.workers} load workers connected to {where} within "
                f"{spec.workers_timeout_s:g}s (are the worker processes or pods running, pointed at this address?)"
            )
            return False
        gevent.sleep(_POLL_S)
    if not fleet.problems:
        logger.warning("stopped while waiting for the load workers")
    return False


def _watch(runner: MasterRunner, fleet: _Fleet, local: _LocalWorkers | None, fail: Fail) -> None:
    """Fail the load as soon as a worker is lost: waiting out the run would only delay a failed verdict."""
    missing_since: dict[str, float] = {}
    while True:
        gevent.sleep(0.5)
        if local is not None and not fleet.team:
            for problem in local.exited():
                fail(problem)
        for client in fleet.team:
            if client in fleet.done:
                continue
            if local is not None and local.has_exited(fleet.pids.get(client)):
                fail(f"load worker {client} exited during the run: its last records are missing")
            elif client not in runner.clients:
                fail(f"lost load worker {client} during the run: its last records are missing")
            elif runner.clients[client].state == STATE_MISSING:
                since = missing_since.setdefault(client, time.monotonic())
                if time.monotonic() - since >= MISSING_GRACE_S:
                    fail(
                        f"lost load worker {client}: no heartbeat for {MISSING_GRACE_S:g}s; its records are missing"
                    )
            else:
                missing_since.pop(client, None)


# -- worker -------------------------------------------------------------------------------------------------------


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
