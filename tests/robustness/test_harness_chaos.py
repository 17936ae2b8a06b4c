"""Chaos aimed at mlchaos itself, through the real ``mlchaos run``: what it depends on dies, hangs, fills up or is
shared. Each case ends with a clear message and the exit code docs/glossary.md gives it, and afterwards nothing is left
applied that could still be reverted (no toxic, no disabled proxy, no stopped program; ``mlchaos rollback`` finds
nothing outstanding) and no process of the run is left behind.

Most runs target a stack this module starts itself (an external target), so the test can break the stack's parts
and then look at exactly what the run left there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pyarrow.compute as pc
import pytest
import yaml
from robustness_helpers import (
    TRACEBACK,
    assert_no_leftover_processes,
    assert_nothing_applied,
    assert_rollback_has_nothing_left,
    toxiproxy_proxies,
    write_scenario,
)
from support.cli_runs import run_mlchaos, start_run
from support.waiting import wait_until

from mlchaos.experiments.journal import Event, stacks_started
from mlchaos.experiments.load.recording import STREAM_NAME, stream_table
from mlchaos.experiments.outcome import REQUESTS_NAME
from mlchaos.experiments.run_reader import RUN_READER
from mlchaos.experiments.runlock import LOCK_DIR_ENV
from mlchaos.injectors.backends.supervisor import SupervisorClient
from mlchaos.reports.run import read_run
from mlchaos.staging.endpoints import StackEndpoints
from mlchaos.staging.options import BreakerOptions, StackOptions
from mlchaos.staging.stack import EmbeddedStack

pytestmark = pytest.mark.stack

LATENCY = {"type": "latency", "dependency": "feature_store", "latency_ms": 150}
DOWN = {"type": "feature_store_outage", "mode": "down"}


@pytest.fixture(scope="module", autouse=True)
def lock_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Run locks of this module's runs in a folder of their own (the CLI children inherit the variable)."""
    directory = tmp_path_factory.mktemp("locks")
    saved = os.environ.get(LOCK_DIR_ENV)
    os.environ[LOCK_DIR_ENV] = str(directory)
    yield directory
    if saved is None:
        del os.environ[LOCK_DIR_ENV]
    else:
        os.environ[LOCK_DIR_ENV] = saved


@pytest.fixture(scope="module")
def stack() -> Iterator[StackEndpoints]:
    with EmbeddedStack(StackOptions(breaker=BreakerOptions(recovery_timeout_s=0.5))) as running:
        yield running.endpoints


@pytest.fixture()
def healthy(stack: StackEndpoints) -> Iterator[StackEndpoints]:
    """The stack, checked pristine after the test — and made so again (toxiproxy resumed, programs running) so
    that one failing test does not fail the next."""
    yield stack
    toxiproxy = SupervisorClient(stack.supervisor_url).program("toxiproxy")
    with contextlib.suppress(psutil.Error):
        psutil.Process(toxiproxy.pid).resume()
    wait_until(lambda: _pristine(stack), 30, "the stack to be pristine again")


def _pristine(stack: StackEndpoints) -> bool:
    try:
        assert_nothing_applied(stack)
    except Exception:  # not reachable yet, or not yet clean: try again
        return False
    return True


def target_file(directory: Path, stack: StackEndpoints) -> Path:
    path = directory / "target.yaml"
    path.write_text(yaml.safe_dump(stack.as_external_target()), encoding="utf-8")
    return path


def toxiproxy_pid(stack: StackEndpoints) -> int:
    return SupervisorClient(stack.supervisor_url).program("toxiproxy").pid


# --- toxiproxy-server dies or hangs


def test_toxiproxy_killed_mid_fault_is_restarted_and_the_run_still_reverts(
    healthy: StackEndpoints, tmp_path: Path
) -> None:
    scenario = write_scenario(tmp_path, LATENCY, target=healthy.as_external_target())
    run = start_run(tmp_path, str(scenario))
    run.wait_for(Event.INJECTED)
    killed = toxiproxy_pid(healthy)
    os.kill(killed, signal.SIGKILL)

    code = run.finish()
    output = run.output()
    assert code in (0, 1), output  # judged: the toxiproxy restart is part of what the verifiers saw
    assert TRACEBACK not in output
    assert wait_until(
        lambda: toxiproxy_pid(healthy) not in (0, killed), 20, "supervisord to restart toxiproxy"
    )
    assert any(e.event == Event.REVERTED and e.fault_id == "f" for e in run.journal()), output
    assert_nothing_applied(healthy)
    assert_rollback_has_nothing_left(run.run_dir())
    assert_no_leftover_processes()


def test_toxiproxy_hanging_during_the_revert_exits_4_naming_the_fault_and_rollback_undoes_it_later(
    healthy: StackEndpoints, tmp_path: Path
) -> None:
    scenario = write_scenario(tmp_path, LATENCY, target=healthy.as_external_target(), fault_s=4)
    run = start_run(tmp_path, str(scenario))
    run.wait_for(Event.INJECTED)
    # SIGSTOP, not SIGKILL: supervisord would restart a killed toxiproxy without the toxic; a frozen one keeps
    # it and answers nothing, like a hung server — the revert cannot happen, and the toxic stays applied.
    frozen = psutil.Process(toxiproxy_pid(healthy))
    frozen.suspend()
    try:
        code = run.finish(timeout_s=150)
    finally:
        frozen.resume()
    output = run.output()
    assert code == 4, output
    assert TRACEBACK not in output
    assert "rollback failed, these faults may still be applied: f: toxiproxy at" in output, output
    assert toxiproxy_proxies(healthy)["feature_store"]["toxics"], "the toxic should still be applied"

    rollback = run_mlchaos("rollback", str(run.run_dir()))
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert "reverted f" in rollback.stdout
    assert_nothing_applied(healthy)
    assert_rollback_has_nothing_left(run.run_dir())
    assert_no_leftover_processes()


# --- supervisord dies


def test_supervisord_of_the_embedded_stack_killed_mid_run(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, DOWN, fault_s=5)
    run = start_run(tmp_path, str(scenario))
    run.wait_for(Event.INJECTED, timeout_s=90)
    [record] = stacks_started(run.journal())
    os.kill(record.supervisord_pid, signal.SIGKILL)

    code = run.finish()
    output = run.output()
    # Its programs are orphaned, and toxiproxy dies at its next log line (SIGPIPE): the revert cannot happen
    # while the run lasts, and the run says so; then it stops the orphans and removes the stack's folder.
    assert code == 4, output
    assert TRACEBACK not in output
    assert "rollback failed, these faults may still be applied: f: toxiproxy at" in output, output
    assert "embedded stack stopped" in output, output
    assert_no_leftover_processes(Path(record.workdir))
    assert not Path(record.workdir).exists()

    # Afterwards the fault is known to be gone with its target; a second rollback has nothing left to do.
    rollback = run_mlchaos("rollback", str(run.run_dir()))
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert "gone f: the embedded stack it was applied to no longer exists" in rollback.stdout
    assert_rollback_has_nothing_left(run.run_dir())


# --- a target that never becomes healthy


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_target_that_never_answers_is_refused_before_anything_is_touched(
    healthy: StackEndpoints, tmp_path: Path
) -> None:
    target = {**healthy.as_external_target(), "service_url": f"http://127.0.0.1:{closed_port()}"}
    scenario = write_scenario(tmp_path, DOWN, target=target)
    run = start_run(tmp_path, str(scenario))
    code = run.finish()
    output = run.output()
    assert code == 2, output
    assert TRACEBACK not in output
    assert "the target is not ready" in output and "did not answer 200" in output, output
    assert not any(e.event == Event.INJECT_INTENT for e in run.journal())
    assert_nothing_applied(healthy)
    assert_no_leftover_processes()


# --- the run directory's disk


@contextlib.contextmanager
def small_filesystem(path: Path, *options: str) -> Iterator[Path]:
    """A real tmpfs of 2 MiB at ``path`` (we run as root, as CI does); unmounted afterwards."""
    path.mkdir(parents=True, exist_ok=True)
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(["size=2m", *options]), "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert mount.returncode == 0, f"these tests mount a small tmpfs and need root: {mount.stderr}"
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_read_only_run_directory_stops_the_run_before_anything_is_touched(
    healthy: StackEndpoints, tmp_path: Path
) -> None:
    scenario = write_scenario(tmp_path, DOWN, target=healthy.as_external_target())
    with small_filesystem(tmp_path / "ro", "ro") as read_only:
        run = start_run(tmp_path, str(scenario), out=read_only / "runs")
        code = run.finish()
    output = run.output()
    assert code == 3, output
    assert TRACEBACK not in output
    assert "cannot write a run directory under" in output and "Read-only file system" in output, output
    assert "nothing was touched" in output
    assert_nothing_applied(healthy)
    assert_no_leftover_processes()


def fill(directory: Path) -> None:
    """Write until the filesystem says it is full."""
    with (directory / "filler").open("wb") as filler, contextlib.suppress(OSError):
        for _ in range(10_000):  # 640 MB at most: far beyond the 2 MiB filesystem
            filler.write(b"\0" * 65536)
            filler.flush()


def test_a_disk_that_fills_up_mid_run_costs_the_recording_never_the_revert(
    healthy: StackEndpoints, tmp_path: Path
) -> None:
    scenario = write_scenario(tmp_path, DOWN, target=healthy.as_external_target(), fault_s=4)
    with small_filesystem(tmp_path / "small") as small:
        run = start_run(tmp_path, str(scenario), out=small / "runs")
        run.wait_for(Event.INJECTED)
        fill(small)
        code = run.finish()
        output = run.output()
        assert code == 3, output
        assert TRACEBACK not in output
        assert "No space left on device" in output and "rollback done" in output, output
        assert_nothing_applied(healthy)  # the fault was reverted although the disk was full

        (small / "filler").unlink()  # room again: `mlchaos rollback` finds nothing it could still revert
        rollback = run_mlchaos("rollback", str(run.run_dir()))
        assert rollback.returncode == 0, rollback.stdout + rollback.stderr
        assert_nothing_applied(healthy)
    assert_no_leftover_processes()


# --- two runs against one target


def _judged_up_to_the_kill(run_dir: Path, injected_at: float) -> None:
    """A run SIGKILLed mid-load left its recording readable up to the kill; ``mlchaos report`` judges it as
    partial, and what it never reached (its after phase) fails as unmeasured — nothing passes on missing data."""
    assert not (run_dir / REQUESTS_NAME).exists()  # never saved: the stream is all there is
    recorded = stream_table(run_dir / STREAM_NAME, ["start"])
    assert recorded.num_rows > 20 and pc.max(recorded["start"]).as_py() > injected_at
    report = run_mlchaos("report", str(run_dir))
    assert report.returncode == 0, report.stdout + report.stderr
    assert "recording partial:" in report.stdout, report.stdout
    assert "recording partial:" in (run_dir / "report.html").read_text(encoding="utf-8")
    run = read_run(run_dir, RUN_READER)
    assert run.partial is not None and run.partial.by.startswith("a kill (recording partial:"), run.partial
    assert f"recording partial: {recorded.num_rows:,} requests up to" in run.message, run.message
    baseline, availability, after = run.verdicts
    assert "baseline" in baseline.name and baseline.passed, baseline  # measured before the kill
    assert availability.verifier == "availability" and availability.passed, availability
    assert "after" in after.name and not after.passed and after.measured is None, after  # never reached


def test_a_second_run_against_a_busy_target_is_refused_and_a_dead_holders_lock_is_taken_over(
    healthy: StackEndpoints, tmp_path: Path
) -> None:
    target = target_file(tmp_path, healthy)
    scenario = write_scenario(tmp_path, DOWN, target="embedded", fault_s=30)
    first = start_run(tmp_path, str(scenario), "--target", str(target), tag="first")
    injected = first.wait_for(Event.INJECTED)

    second = run_mlchaos("run", "--out", str(tmp_path / "second"), "--target", str(target), str(scenario))
    output = second.stdout + second.stderr
    assert second.returncode == 2, output
    assert TRACEBACK not in output
    assert "target busy: another mlchaos run is using" in output, output
    assert f"pid {first.process.pid}" in output and first.run_dir().name in output, output
    assert toxiproxy_proxies(healthy)["feature_store"]["enabled"] is False, (
        "the second run undid the first's fault"
    )

    first.signal(signal.SIGKILL)  # dies holding the lock, and leaves its fault applied
    first.finish()
    assert run_mlchaos("rollback", str(first.run_dir())).returncode == 0
    assert_nothing_applied(healthy)
    _judged_up_to_the_kill(first.run_dir(), injected.ts)

    short = write_scenario(tmp_path, DOWN, target="embedded", fault_s=3, name="after")
    third = run_mlchaos("run", "--out", str(tmp_path / "third"), "--target", str(target), str(short))
    output = third.stdout + third.stderr
    assert third.returncode in (0, 1), output
    assert "took over the target lock of a run that died holding it" in output, output
    assert f"pid {first.process.pid}" in output, output
    assert_nothing_applied(healthy)
    assert_no_leftover_processes()
