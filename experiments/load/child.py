"""The Locust load child::

    python -m mlchaos.experiments.load.child SPEC_JSON_PATH [--stop-on-stdin-eof] [--parent PID]
    python -m mlchaos.experiments.load.child --worker HOST:PORT [--stop-on-stdin-eof] [--parent PID]

The first form runs the load the spec describes: in this process, or — with ``workers: N`` in the spec — as a
Locust master whose N workers send the requests (:mod:`~mlchaos.experiments.load.distributed`). The second form
is such a worker: it connects to a master and takes the spec from it. Both read the load secret (and a worker the
hosts it may reach) from the environment (:mod:`~mlchaos.experiments.load.load_secret`,
:mod:`~mlchaos.experiments.load.worker_hosts`), never from the command line.

Only the child's modules (this one, :mod:`~mlchaos.experiments.load.users` and
:mod:`~mlchaos.experiments.load.distributed`) import Locust. Importing Locust monkey-patches the whole process for
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

The users are mlchaos' own (posting the spec's bodies) or a team's, from the locustfile the spec carries
(:mod:`~mlchaos.experiments.load.team`); either way every request they make through a Locust client is recorded.

ML input faults (corrupted, adversarial, shifted, out-of-distribution, metamorphic requests) are mixed into each
user's bodies by :class:`~mlchaos.experiments.load.mix.InputMixer` on the load's own clock, so a fault window
opens on time without the orchestrator reaching into this process; a mutated request is raw bytes with its own
content type, and its tags (``input``, ``pair``, ``expected``) travel in the request's context to its row.
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401 - first: it monkey-patches for gevent, which must precede every other import

# isort: on
import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import BinaryIO

from pydantic import ValidationError

from mlchaos.experiments.load import distributed, distributed_worker, load_secret, wire, worker_hosts
from mlchaos.experiments.load.bodies import BodyError, BodySource, body_source
from mlchaos.experiments.load.mix import InputMixer
from mlchaos.experiments.load.spec import LoadSpec, parse_host_port
from mlchaos.experiments.load.team import TeamUsersError
from mlchaos.experiments.load.users import (
    BACKSTOP_SLACK_S,
    EXIT_BAD_SPEC,
    Gate,
    Recorder,
    exit_code,
    exit_when_orphaned,
    fire_init,
    load_environment,
    on_stop_request,
    write_line,
)

logger = logging.getLogger("mlchaos.load.child")
ORPHAN_GRACE_S = 15.0
"""After the parent died, how long the graceful stop (stdin EOF) may take before the process just exits."""


def run(
    spec: LoadSpec, source: BodySource, mixer: InputMixer, out: BinaryIO, *, stop_on_stdin_eof: bool = False
) -> int:
    """Run the load in this process to its end and stream the records; returns the process exit code."""
    gate = Gate()
    env = load_environment(spec, source, mixer, gate)
    runner = env.create_local_runner()
    fire_init(env, runner)
    recorder = Recorder(
        spec, ship=lambda rows: write_line(out, wire.encode_batch(time.time(), runner.user_count, rows))
    )
    env.events.request.add_listener(recorder.on_request)  # type: ignore[no-untyped-call]

    on_stop_request(gate.close, stdin_eof=stop_on_stdin_eof)
    signal.setitimer(signal.ITIMER_REAL, spec.duration_s + spec.stop_grace_s + BACKSTOP_SLACK_S)

    started = gate.started = time.time()
    gate.deadline = started + spec.duration_s
    write_line(out, wire.encode_started(started))
    if spec.stages:
        runner.start_shape()
    else:
        runner.start(spec.users, spec.spawn_rate)
    flusher = recorder.flush_every(spec.flush_interval_s)
    gate.wait()

    runner.quit()  # no new requests; in-flight ones get stop_grace_s (Environment.stop_timeout)
    flusher.kill()
    recorder.record_unfinished()  # those still waiting then were killed: timeouts, not lost
    recorder.flush()
    write_line(out, wire.encode_done(recorder.sent))
    task_errors = [(error["count"], error["msg"]) for error in runner.exceptions.values()]
    return exit_code(task_errors, team=spec.locustfile is not None)


def _claim_stdout() -> BinaryIO:
    """A private handle on the real stdout; fd 1 (``print``, C libraries) is redirected to stderr."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlchaos.experiments.load.child",
        description="Run Locust as described by a LoadSpec JSON file and stream request records on stdout, "
        "or (--worker) serve a master as one of its workers.",
    )
    parser.add_argument("spec", type=Path, nargs="?", help="LoadSpec JSON file")
    parser.add_argument(
        "--worker", metavar="HOST:PORT", help="be a worker of the master listening there (no spec file)"
    )
    parser.add_argument(
        "--stop-on-stdin-eof", action="store_true", help="stop when stdin closes (parent gone)"
    )
    parser.add_argument(
        "--parent",
        type=int,
        metavar="PID",
        help="exit at the latest a few seconds after this process is gone",
    )
    args = parser.parse_args(argv)
    if (args.spec is None) == (args.worker is None):
        parser.error("give either a spec file or --worker HOST:PORT")
    out = _claim_stdout()
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.parent is not None:
        exit_when_orphaned(args.parent, ORPHAN_GRACE_S)
    if args.worker is not None:
        try:
            host, port = parse_host_port(args.worker)
        except ValueError as exc:
            parser.error(f"--worker: {exc}")
        try:
            secret, allowed = load_secret.required(), worker_hosts.from_environment()
        except ValueError as exc:  # LoadSecretError included
            print(f"mlchaos load worker: {exc}", file=sys.stderr)
            return EXIT_BAD_SPEC
        return distributed_worker.run_worker(
            host, port, secret=secret, allowed_hosts=allowed, stop_on_stdin_eof=args.stop_on_stdin_eof
        )
    try:
        spec = LoadSpec.model_validate_json(args.spec.read_bytes())
        source = body_source(spec)
        mixer = InputMixer(spec)
    except (OSError, ValidationError, BodyError) as exc:
        print(f"mlchaos load child: invalid load spec {args.spec}: {exc}", file=sys.stderr)
        return EXIT_BAD_SPEC
    try:
        if spec.workers:
            return distributed.run_master(spec, source, mixer, out, stop_on_stdin_eof=args.stop_on_stdin_eof)
        return run(spec, source, mixer, out, stop_on_stdin_eof=args.stop_on_stdin_eof)
    except TeamUsersError as exc:  # raised before the load starts (no `started` line yet)
        print(f"mlchaos load child: invalid load spec {args.spec}: {exc}", file=sys.stderr)
        return EXIT_BAD_SPEC
    finally:
        out.close()


if __name__ == "__main__":
    sys.exit(main())
