"""Distributed load: a Locust master in the load child hands the users to N workers; each worker sends its users'
requests and ships every request row back to the master, which writes them to the orchestrator exactly as a
local load does — so the verifiers get the same per-request data whichever way the load ran.

Workers are local processes the master starts on loopback, or processes started elsewhere (the chart's worker
pods, ``mlchaos load-worker``) that connect to ``worker_bind``. Either way a worker is given nothing but the
master's address and the load secret: the spec travels over the Locust connection, so a worker pod needs no copy
of the scenario.

This module is the master. A worker is :mod:`~mlchaos.experiments.load.distributed_worker`, the worker processes
a master starts itself :mod:`~mlchaos.experiments.load.local_workers`, the check of each message before Locust acts
on it :mod:`~mlchaos.experiments.load.admission`, the message names :mod:`~mlchaos.experiments.load.conversation`.

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
import locust  # noqa: F401 - first: it monkey-patches for gevent, which must precede every other import

# isort: on
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import gevent
from gevent.event import Event
from locust.exception import RPCError
from locust.runners import STATE_MISSING, MasterRunner

from mlchaos.experiments.load import checked_rows, load_secret, secure_rpc, wire, worker_hosts
from mlchaos.experiments.load.admission import admit
from mlchaos.experiments.load.bodies import BodySource
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
from mlchaos.experiments.load.local_workers import LOOPBACK, LocalWorkers
from mlchaos.experiments.load.mix import InputMixer
from mlchaos.experiments.load.spec import LoadSpec, parse_host_port
from mlchaos.experiments.load.users import (
    BACKSTOP_SLACK_S,
    EXIT_BAD_SPEC,
    EXIT_FAILED,
    Gate,
    exit_code,
    fire_init,
    load_environment,
    on_stop_request,
    write_line,
)

MISSING_GRACE_S = 10.0
"""How long a worker elsewhere may miss its heartbeats (Locust marks it missing after 3 s) before it counts as lost."""
_POLL_S = 0.05

logger = logging.getLogger("mlchaos.load.distributed")
Fail = Callable[[str], None]
"""Records a problem that fails the load, and stops it."""


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
        local = LocalWorkers(spec.workers, port, secret, worker_hosts.spec_hosts(spec))
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

    admit(runner, lambda: fleet.team)
    runner.register_message(HELLO, on_hello)
    runner.register_message(READY, on_ready)
    runner.register_message(REJECTED, on_rejected)
    runner.register_message(ROWS, on_rows)
    runner.register_message(DONE, on_done)


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


def _watch(runner: MasterRunner, fleet: _Fleet, local: LocalWorkers | None, fail: Fail) -> None:
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
