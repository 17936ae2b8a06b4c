"""End to end: a real Locust child against a real HTTP server on 127.0.0.1.

Every run is short (≈1–3 s of load plus ≈1 s to import Locust in the child) and every wait is bounded; the
``runners`` fixture stops any child a failing test leaves behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from support.waiting import wait_until

from mlchaos.experiments.load.bodies import DatasetBodies
from mlchaos.experiments.load.runner import LoadError, LoadRunner
from mlchaos.experiments.load.spec import LoadSpec, Stage
from mlchaos.experiments.records import RequestRecord

pytestmark = pytest.mark.timeout(30)

MakeSpec = Callable[..., LoadSpec]
Runners = Callable[..., LoadRunner]


def test_records_stream_during_the_run_and_match_the_server(
    target: Any, make_spec: MakeSpec, runners: Runners
) -> None:
    batches: list[list[RequestRecord]] = []
    spec = make_spec(target.url, users=3, duration_s=2.0, tier_field="header:X-Tier")
    runner = runners(spec, on_batch=batches.append)
    runner.start()

    wait_until(lambda: len(runner.records) > 0, 1.0, "records during the run")
    assert runner.running
    assert runner.wait(timeout_s=10) == 0

    records = runner.records
    assert len(records) == runner.sent == target.count > 20
    assert sum(map(len, batches)) == len(records)
    assert {(r.status, r.tier, r.confidence, r.prediction, r.error) for r in records} == {
        (200, "fallback", 0.9, "legit", None)  # tier from the X-Tier header, the rest from the JSON body
    }
    assert runner.started_at is not None
    assert all(runner.started_at <= r.start <= runner.started_at + spec.duration_s + 0.005 for r in records)
    assert all(0 < r.latency_ms < 1000 for r in records)
    assert max(users for _, users in runner.user_counts) == 3


def test_failures_become_statuses_and_errors(target: Any, make_spec: MakeSpec, runners: Runners) -> None:
    spec = make_spec(target.url, duration_s=2.5, request_timeout_s=0.3)
    runner = runners(spec)
    runner.start()
    target.delay_s = 1.0
    for mode in ("ok", "error", "close", "slow", "ok"):  # the server changes its behaviour mid-run
        target.mode = mode
        time.sleep(0.45)
    assert runner.wait(timeout_s=10) == 0

    seen = Counter((r.status, r.error, r.tier) for r in runner.records)
    assert seen[(200, None, "primary")] > 0
    assert seen[(500, "HTTP 500", None)] > 0
    dropped = ("HTTPConnectionClosed", "ConnectionResetError")  # FIN or RST: the kernel's choice
    assert any(status == 0 and str(error).startswith(dropped) for status, error, _ in seen)
    assert seen[(0, "DeadlinePassed: no complete answer within 0.3s", None)] > 0
    assert len(runner.records) == runner.sent == target.count


def test_connection_refused_is_status_zero(free_port: int, make_spec: MakeSpec, runners: Runners) -> None:
    runner = runners(
        make_spec(f"http://127.0.0.1:{free_port}", duration_s=0.8, wait_min_s=0.05, wait_max_s=0.05)
    )
    runner.start()
    assert runner.wait(timeout_s=10) == 0
    records = runner.records
    assert records
    assert {r.status for r in records} == {0}
    assert all(r.error is not None and r.error.startswith("ConnectionRefusedError") for r in records)


def test_template_bodies_keep_native_types_and_carry_labels(
    target: Any, make_spec: MakeSpec, runners: Runners
) -> None:
    template = {
        "user_id": "{{ entity(randint(1, 50)) }}",
        "amount": "{{ uniform(1, 1000) | round(2) }}",
        "items": "{{ randint(1, 5) }}",
        "channel": "{{ choice(['web', 'app']) }}",
        "flags": ["{{ randint(0, 1) == 1 }}", "static"],
        "meta": {"source": "mlchaos", "seq": "{{ seq }}"},
        "plain": "123",
    }
    label = "{{ 'fraud' if body.amount > 900 else 'legit' }}"
    spec = make_spec(target.url, requests=(), template=template, template_label=label, duration_s=1.0)
    runner = runners(spec)
    runner.start()
    assert runner.wait(timeout_s=10) == 0

    bodies = list(target.bodies)
    assert len(bodies) == len(runner.records) > 5
    for body in bodies:
        assert isinstance(body["user_id"], str) and len(body["user_id"]) == 5 and body["user_id"][0] == "u"
        assert isinstance(body["amount"], float) and 1 <= body["amount"] <= 1000
        assert isinstance(body["items"], int) and 1 <= body["items"] <= 5
        assert body["channel"] in {"web", "app"}
        assert isinstance(body["flags"][0], bool) and body["flags"][1] == "static"
        assert body["meta"]["source"] == "mlchaos" and isinstance(body["meta"]["seq"], int)
        assert body["plain"] == "123"  # strings without {{ }} are not evaluated
    expected = Counter("fraud" if b["amount"] > 900 else "legit" for b in bodies)
    assert Counter(r.label for r in runner.records) == expected


def test_dataset_is_cycled_in_order_with_its_labels(
    target: Any, make_spec: MakeSpec, runners: Runners
) -> None:
    spec = make_spec(target.url, users=1, duration_s=1.0, seed=7)
    runner = runners(spec)
    runner.start()
    assert runner.wait(timeout_s=10) == 0

    ids = [body["id"] for body in target.bodies]
    first = DatasetBodies(spec).offset(0)
    assert len(ids) > len(spec.requests)
    assert ids == [(first + i) % len(spec.requests) for i in range(len(ids))]
    labels = [r.label for r in sorted(runner.records, key=lambda r: r.start)]
    assert labels == [f"L{i}" for i in ids]


def test_duration_is_a_hard_bound_even_with_requests_hanging(
    target: Any, make_spec: MakeSpec, runners: Runners
) -> None:
    target.mode, target.delay_s = "slow", 3.0  # every request outlives the run and its grace
    spec = make_spec(target.url, duration_s=1.0, request_timeout_s=10.0, stop_grace_s=0.3)
    runner = runners(spec)
    runner.start()
    t0 = time.monotonic()
    assert runner.wait(timeout_s=10) == 0
    assert time.monotonic() - t0 < spec.duration_s + spec.stop_grace_s + 1.0
    # abandoned in flight at the stop: each one the target received is a timeout row, none invented
    assert runner.sent == len(runner.records) == target.count > 0
    assert {(r.status, str(r.error).split(" (")[0]) for r in runner.records} == {
        (0, "timed out: no answer yet when the load stopped")
    }


def test_sigterm_stops_promptly_and_flushes(target: Any, make_spec: MakeSpec, runners: Runners) -> None:
    runner = runners(make_spec(target.url, duration_s=30.0))
    runner.start()
    wait_until(lambda: len(runner.records) > 5, 2.0, "more than 5 records")
    t0 = time.monotonic()
    assert runner.stop() == 0
    assert time.monotonic() - t0 < 2.0
    assert runner.stop() == 0  # idempotent
    assert not runner.running
    assert len(runner.records) == runner.sent == target.count


def test_stages_change_the_user_count(target: Any, make_spec: MakeSpec, runners: Runners) -> None:
    stages = (Stage(at_s=1.0, users=5, spawn_rate=100), Stage(at_s=2.0, users=1, spawn_rate=100))
    spec = make_spec(target.url, users=1, duration_s=3.2, stages=stages, wait_min_s=0.05, wait_max_s=0.05)
    runner = runners(spec)
    runner.start()
    assert runner.wait(timeout_s=10) == 0

    assert runner.started_at is not None
    counts = [(t - runner.started_at, users) for t, users in runner.user_counts]
    assert {users for t, users in counts if 0.3 < t < 0.9} == {1}
    assert max(users for _, users in counts) == 5
    assert {users for t, users in counts if 2.4 < t < spec.duration_s} == {1}
    starts = [r.start - runner.started_at for r in runner.records]
    before, spike = sum(t < 0.9 for t in starts), sum(1.3 < t < 2.0 for t in starts)
    assert spike > 2 * before * (0.7 / 0.9)  # 5 users send ~5× the traffic of one


def test_bad_template_fails_before_any_load(target: Any, make_spec: MakeSpec, runners: Runners) -> None:
    spec = make_spec(target.url, requests=(), template={"x": "{{ nope + 1 }}"})
    runner = runners(spec)
    with pytest.raises(LoadError, match=r"template field body\.x: UndefinedError: 'nope' is undefined"):
        runner.start()
    assert runner.pid is None  # refused before spawning anything
    assert target.count == 0


def test_a_template_failing_mid_run_fails_the_run(target: Any, make_spec: MakeSpec, runners: Runners) -> None:
    template = {"x": "{{ 1 // (0 if seq == 8 else 1) }}"}  # passes the up-front renders, fails the 9th
    runner = runners(make_spec(target.url, requests=(), template=template, duration_s=0.8))
    runner.start()
    with pytest.raises(LoadError, match="load task failed") as caught:
        runner.wait(timeout_s=10)
    assert caught.value.returncode == 1
    assert "template field body.x: ZeroDivisionError" in caught.value.stderr_tail
    assert len(runner.records) == runner.sent == target.count > 8  # the other requests still went out


def test_child_rejects_a_bad_template_with_exit_2(target: Any, make_spec: MakeSpec, tmp_path: Path) -> None:
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(make_spec(target.url, requests=(), template={"x": "{{ 1 + }}"}).model_dump_json())
    cmd = [sys.executable, "-m", "mlchaos.experiments.load.child", str(spec_path)]
    done = subprocess.run(cmd, capture_output=True, timeout=20, check=False)
    assert done.returncode == 2
    assert done.stdout == b""
    assert (
        b"invalid load spec" in done.stderr and b"template field body.x: TemplateSyntaxError" in done.stderr
    )
    assert target.count == 0


@pytest.mark.parametrize("how", ["SIGINT", "stdin-eof"])
def test_child_stops_cleanly_on_sigint_or_when_its_parent_goes(
    how: str, target: Any, make_spec: MakeSpec, tmp_path: Path
) -> None:
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(make_spec(target.url, duration_s=30.0).model_dump_json())
    cmd = [sys.executable, "-m", "mlchaos.experiments.load.child", str(spec_path), "--stop-on-stdin-eof"]
    with subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as child:
        assert child.stdin is not None and child.stdout is not None
        try:
            assert json.loads(child.stdout.readline())["started"] > 0
            time.sleep(0.3)
            if how == "SIGINT":
                child.send_signal(signal.SIGINT)
            else:
                child.stdin.close()  # what the orchestrator dying looks like from the child
                child.stdin = None  # so communicate() does not flush it
            out, _ = child.communicate(timeout=5)
        finally:
            child.kill()
    lines = [json.loads(line) for line in out.splitlines()]
    assert child.returncode == 0
    assert lines[-1] == {"done": True, "sent": sum(len(line["records"]) for line in lines[:-1])}
    assert lines[-1]["sent"] == target.count > 0


def test_a_child_that_cannot_start_raises_with_its_stderr(
    make_spec: MakeSpec, runners: Runners, tmp_path: Path
) -> None:
    fake_python = tmp_path / "python"
    fake_python.write_text("#!/bin/sh\necho 'ImportError: no module named locust' >&2\nexit 3\n")
    fake_python.chmod(fake_python.stat().st_mode | stat.S_IXUSR)
    runner = runners(make_spec("http://127.0.0.1:9"), python=str(fake_python))
    with pytest.raises(LoadError, match="exited before starting") as caught:
        runner.start()
    assert caught.value.returncode == 3
    assert "no module named locust" in caught.value.stderr_tail


def test_a_child_killed_mid_run_raises_on_wait(target: Any, make_spec: MakeSpec, runners: Runners) -> None:
    runner = runners(make_spec(target.url, duration_s=30.0))
    runner.start()
    assert runner.pid is not None
    os.kill(runner.pid, signal.SIGKILL)
    with pytest.raises(LoadError, match="killed by signal 9"):
        runner.wait(timeout_s=5)


def test_a_failing_callback_is_reported_not_swallowed(
    target: Any, make_spec: MakeSpec, runners: Runners
) -> None:
    def explode(batch: list[RequestRecord]) -> None:
        raise RuntimeError("dashboard is down")

    runner = runners(make_spec(target.url, duration_s=0.6), on_batch=explode)
    runner.start()
    with pytest.raises(LoadError, match="on_batch callback failed: RuntimeError"):
        runner.wait(timeout_s=10)
    assert len(runner.records) == runner.sent == target.count  # collection went on regardless


def test_the_orchestrator_side_never_imports_locust_or_gevent() -> None:
    code = (
        "import sys\n"
        "import mlchaos.experiments.load.runner, mlchaos.experiments.load.store\n"
        "banned = {'locust', 'gevent', 'geventhttpclient'}\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in banned)\n"
        "assert not leaked, leaked\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


@pytest.mark.timeout(90)
def test_an_orphaned_child_exits_even_when_its_stdin_never_closes(
    target: Any, make_spec: MakeSpec, tmp_path: Path
) -> None:
    """Stdin EOF is how a child learns its parent died; when some other process still holds the pipe's write end,
    EOF never comes — the child must still go (it watches its parent too) instead of loading the target on."""
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(make_spec(target.url, duration_s=120.0).model_dump_json())
    parent = (
        "import os, subprocess, sys\n"
        "r, w = os.pipe()\n"
        "child = subprocess.Popen([sys.executable, '-m', 'mlchaos.experiments.load.child', sys.argv[1],\n"
        "                          '--stop-on-stdin-eof', '--parent', str(os.getpid())], stdin=r,\n"
        "                         stdout=subprocess.DEVNULL,\n"
        "                         stderr=subprocess.DEVNULL)\n"
        "keeper = subprocess.Popen(['sleep', '90'], pass_fds=(w,), stdout=subprocess.DEVNULL,\n"
        "                         stderr=subprocess.DEVNULL)  # keeps w open\n"
        "print(child.pid, keeper.pid, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", parent, str(spec_path)], capture_output=True, text=True, timeout=60
    )
    child_pid, keeper_pid = map(int, run.stdout.split())
    child, keeper = psutil.Process(child_pid), psutil.Process(keeper_pid)
    try:
        wait_until(lambda: target.count > 0, 20.0, "the orphan to load the target")
        _, alive = psutil.wait_procs([child], timeout=45)  # its duration is 120 s: only the watch ends it
        assert not alive, "the orphaned load child kept running"
    finally:
        for process in (child, keeper):
            with contextlib.suppress(psutil.Error):
                process.kill()
