"""Distributed load (``workers: N``): a real Locust master and real worker processes against a real HTTP server
on 127.0.0.1. Whatever the workers send reaches the orchestrator as records, exactly as from a local load.

Workers are started by the master itself (local mode) or, as the chart's worker pods are, by
``mlchaos load-worker`` processes pointed at ``worker_bind`` (external mode), which share the load secret with the
run through MLCHAOS_LOAD_SECRET (set for every test here; tests/security/test_rogue_worker.py tries without it).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from load_fakes import DATASET, FakeTarget, run_to_end
from support.waiting import wait_until

from mlchaos.experiments.inputs import CorruptSend, InputWindow, MetamorphicSend, Mutator
from mlchaos.experiments.inputs.inference import resolve_schema
from mlchaos.experiments.inputs.mutators import mutate
from mlchaos.experiments.inputs.relations import Add
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.load.load_secret import SECRET_ENV
from mlchaos.experiments.load.runner import LoadError, LoadRunner
from mlchaos.experiments.load.spec import WORKER_EXIT_BUSY, LoadSpec

pytestmark = pytest.mark.timeout(60)

MLCHAOS = Path(sys.executable).with_name("mlchaos")
MakeSpec = Callable[..., LoadSpec]
Runners = Callable[..., LoadRunner]


def workers_of(runner: LoadRunner) -> list[psutil.Process]:
    assert runner.pid is not None
    return [p for p in psutil.Process(runner.pid).children() if "--worker" in p.cmdline()]


def connects_to(process: psutil.Process, url: str) -> bool:
    port = int(url.rsplit(":", 1)[1])
    return any(c.raddr and c.raddr.port == port for c in process.net_connections(kind="tcp"))


@pytest.fixture(autouse=True)
def load_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    """The secret the run and its `mlchaos load-worker` processes share (inherited by every process started)."""
    secret = "test-load-secret-0123456789"
    monkeypatch.setenv(SECRET_ENV, secret)
    return secret


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; killed at teardown if still there."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)  # reaps it and closes its pipe


def started(command: list[str], processes: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    processes.append(process)
    return process


def load_worker(master: str, processes: list[subprocess.Popen[str]], *args: str) -> subprocess.Popen[str]:
    return started([str(MLCHAOS), "load-worker", master, *args], processes)


def test_every_request_of_every_worker_is_recorded(
    target: FakeTarget, make_spec: MakeSpec, runners: Runners
) -> None:
    spec = make_spec(target.url, users=4, workers=2, duration_s=2.5)
    runner = runners(spec)
    runner.start()

    workers = workers_of(runner)
    assert len(workers) == 2
    wait_until(lambda: all(connects_to(w, target.url) for w in workers), 2.0, "each worker to send requests")
    assert runner.wait(timeout_s=20) == 0

    records = runner.records
    assert len(records) == runner.sent == target.count > 20
    assert {r.status for r in records} == {200}
    assert max(users for _, users in runner.user_counts) == 4
    assert runner.started_at is not None
    assert all(runner.started_at <= r.start <= runner.started_at + spec.duration_s + 0.005 for r in records)
    wait_until(lambda: not any(w.is_running() for w in workers), 10.0, "the workers to end with the load")


def test_input_faults_are_tagged_by_the_workers_as_by_one_process(
    target: FakeTarget, make_spec: MakeSpec, runners: Runners
) -> None:
    small = CorruptSend(mutators=tuple(Mutator), oversize_bytes=3000, nest_depth=40)
    window = InputWindow(fault_id="f", start_s=0.0, end_s=60.0, share=1.0, send=small)
    schema = resolve_schema(RequestSchema(), bodies=[r.body for r in DATASET], openapi=None, predict_path="/")
    spec = make_spec(target.url, users=3, workers=2, duration_s=2.5, inputs=(window,), request_schema=schema)
    runner = run_to_end(runners, spec)

    made = {
        (out.body, out.content_type): mutator
        for mutator in Mutator
        for clean in DATASET
        for out in [mutate(mutator, clean.body, small, schema)]
    }
    seen_at_server = Counter(made[(raw, content_type)] for raw, content_type in target.raw)
    assert set(seen_at_server) == set(Mutator)
    assert Counter(r.input for r in runner.records) == {
        f"corrupt:{m.value}": n for m, n in seen_at_server.items()
    }


def test_metamorphic_pairs_stay_together_on_their_worker(
    target: FakeTarget, make_spec: MakeSpec, runners: Runners
) -> None:
    send = MetamorphicSend(
        relations=(Add(name="more", operation="add", field="amount", value=1, expect="higher"),)
    )
    window = InputWindow(fault_id="f", start_s=0.0, end_s=60.0, share=1.0, send=send)
    spec = make_spec(target.url, users=2, workers=2, inputs=(window,))
    runner = run_to_end(runners, spec)

    by_pair: dict[str, list[str | None]] = {}
    for record in sorted(runner.records, key=lambda r: r.start):
        assert record.pair is not None
        by_pair.setdefault(record.pair, []).append(record.expected)
    assert len(by_pair) > 5
    # pair ids are per user: two workers' users must not collide (their user indices interleave)
    last_of_user = {}
    for pair in by_pair:  # ids are fault/user/n
        user, n = pair.rsplit("/", 1)
        last_of_user[user] = max(last_of_user.get(user, 0), int(n))
    cut_by_the_stop = {f"{user}/{n}" for user, n in last_of_user.items()}
    broken = {pair: e for pair, e in by_pair.items() if e != ["original", "higher"]}
    assert all(e == ["original"] and pair in cut_by_the_stop for pair, e in broken.items()), broken
    assert len(last_of_user) == 2


def test_sigterm_stops_the_workers_and_keeps_every_record(
    target: FakeTarget, make_spec: MakeSpec, runners: Runners
) -> None:
    """What an interrupted run (Ctrl-C, a guardrail) does to its load: stop early, lose nothing."""
    spec = make_spec(target.url, users=4, workers=2, duration_s=30.0)
    runner = runners(spec)
    runner.start()
    workers = workers_of(runner)
    wait_until(lambda: len(runner.records) > 20, 10.0, "more than 20 records")
    assert runner.stop() == 0
    assert runner.error is None
    assert len(runner.records) == runner.sent == target.count
    wait_until(lambda: not any(w.is_running() for w in workers), 10.0, "the workers to end with the master")


def test_a_worker_lost_mid_run_fails_the_load_without_waiting_for_its_end(
    target: FakeTarget, make_spec: MakeSpec, runners: Runners
) -> None:
    spec = make_spec(target.url, users=2, workers=2, duration_s=30.0)
    runner = runners(spec)
    runner.start()
    victim = workers_of(runner)[0]
    victim.send_signal(signal.SIGKILL)  # as a worker pod evicted mid-run

    with pytest.raises(LoadError) as failure:
        runner.wait(timeout_s=20)  # well before duration_s: the master notices the missing heartbeats
    assert "exited during the run: its last records are missing" in str(failure.value)
    assert failure.value.returncode == 1


def test_external_workers_serve_a_master_through_mlchaos_load_worker(
    target: FakeTarget,
    make_spec: MakeSpec,
    runners: Runners,
    free_port: int,
    processes: list[subprocess.Popen[str]],
) -> None:
    master = f"127.0.0.1:{free_port}"
    workers = [load_worker(master, processes, "--loads", "1") for _ in range(2)]  # started first, as pods are
    spec = make_spec(target.url, users=4, workers=2, worker_bind=master, duration_s=2.0)
    runner = run_to_end(runners, spec)
    assert len(runner.records) == runner.sent == target.count > 20

    for worker in workers:
        output, _ = worker.communicate(timeout=20)
        assert worker.returncode == 0, output
        assert "load 1: served" in output


def test_a_worker_arriving_after_the_start_is_turned_away(
    target: FakeTarget,
    make_spec: MakeSpec,
    runners: Runners,
    free_port: int,
    processes: list[subprocess.Popen[str]],
) -> None:
    master = f"127.0.0.1:{free_port}"
    load_worker(master, processes, "--loads", "1")
    spec = make_spec(target.url, users=2, workers=1, worker_bind=master, duration_s=6.0)
    runner = runners(spec)
    runner.start()

    late = started([sys.executable, "-m", "mlchaos.experiments.load.child", "--worker", master], processes)
    output, _ = late.communicate(timeout=20)
    assert late.returncode == WORKER_EXIT_BUSY, output
    assert "already running a load" in output
    assert runner.wait(timeout_s=20) == 0
    assert len(runner.records) == runner.sent == target.count > 0


def test_the_master_gives_up_when_its_workers_never_come(
    target: FakeTarget, make_spec: MakeSpec, runners: Runners, free_port: int
) -> None:
    master = f"127.0.0.1:{free_port}"
    spec = make_spec(target.url, users=2, workers=2, worker_bind=master, workers_timeout_s=1.0)
    runner = runners(spec)
    with pytest.raises(LoadError) as failure:
        runner.start()
    assert f"only 0 of 2 load workers connected to {master} within 1s" in str(failure.value)
    assert target.count == 0


def test_load_worker_waits_for_a_master_and_stops_on_sigterm(
    free_port: int, processes: list[subprocess.Popen[str]]
) -> None:
    worker = load_worker(f"127.0.0.1:{free_port}", processes)
    assert worker.stdout is not None
    first = worker.stdout.readline()  # printed once its signal handlers are in place
    assert f"serving the mlchaos load master at 127.0.0.1:{free_port}" in first
    time.sleep(2.0)  # no master there: it must keep waiting, not give up
    assert worker.poll() is None
    worker.send_signal(signal.SIGTERM)
    output, _ = worker.communicate(timeout=20)
    assert worker.returncode == 0, output
    leftovers = [
        p for p in psutil.process_iter(["cmdline"]) if f"127.0.0.1:{free_port}" in (p.info["cmdline"] or [])
    ]
    assert not leftovers, "its worker process went with it"


def test_a_worker_refuses_a_load_for_a_host_it_was_not_configured_for(
    make_spec: MakeSpec, runners: Runners, free_port: int, processes: list[subprocess.Popen[str]]
) -> None:
    """The master decides what a worker runs, but not where it may send requests: the worker's own --allow-host."""
    master = f"127.0.0.1:{free_port}"
    worker = load_worker(master, processes, "--loads", "1", "--allow-host", "staging.example")
    spec = make_spec("http://elsewhere.example:8080", workers=1, worker_bind=master, workers_timeout_s=20.0)
    runner = runners(spec)
    with pytest.raises(LoadError) as failure:
        runner.start()
    assert (
        "rejected the load: the load spec sends requests to 'elsewhere.example'" in failure.value.stderr_tail
    )
    worker.terminate()
    output, _ = worker.communicate(timeout=20)
    assert "requests may go to loopback, staging.example" in output
