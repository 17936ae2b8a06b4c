"""The run lock: one run per target at a time; a holder that died (even by SIGKILL) never blocks the next run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlchaos.experiments.runlock import Holder, TargetBusy, acquire, lock_path, read_holder

ENDPOINTS = ["http://127.0.0.1:8080", "http://127.0.0.1:8474"]


def test_a_held_target_is_refused_naming_the_holder(tmp_path: Path) -> None:
    with acquire(ENDPOINTS, run_dir=tmp_path / "first", scenario="first", directory=tmp_path):
        with pytest.raises(TargetBusy) as caught:
            acquire(
                ["http://127.0.0.1:8474"], run_dir=tmp_path / "second", scenario="second", directory=tmp_path
            )
        message = str(caught.value)
        assert "target busy: another mlchaos run is using http://127.0.0.1:8474" in message
        assert f"pid {os.getpid()}" in message and "scenario 'first'" in message
        assert str(tmp_path / "first") in message
    # released: the next run takes it, and finds no dead holder to report
    with acquire(ENDPOINTS, run_dir=tmp_path / "third", scenario="third", directory=tmp_path) as lock:
        assert lock.stale == []


def test_a_refused_run_holds_none_of_the_locks(tmp_path: Path) -> None:
    with acquire(ENDPOINTS[1:], run_dir=tmp_path / "a", scenario="a", directory=tmp_path):
        with pytest.raises(TargetBusy):
            acquire(ENDPOINTS, run_dir=tmp_path / "b", scenario="b", directory=tmp_path)
        # the service's lock, taken before the busy one was met, was given back
        acquire(ENDPOINTS[:1], run_dir=tmp_path / "c", scenario="c", directory=tmp_path).release()


def test_the_lock_of_a_killed_holder_is_taken_over_and_reported(tmp_path: Path) -> None:
    holder = (
        "from pathlib import Path; import os, sys\n"
        "from mlchaos.experiments.runlock import acquire\n"
        f"lock = acquire({ENDPOINTS!r}, run_dir=Path('killed-run'), scenario='killed', directory=Path(sys.argv[1]))\n"
        "print('locked', flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", holder, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert child.returncode == -9 and "locked" in child.stdout, child.stderr
    dead = read_holder(lock_path(ENDPOINTS[0], tmp_path))
    assert dead is not None and dead.scenario == "killed"

    with acquire(ENDPOINTS, run_dir=tmp_path / "next", scenario="next", directory=tmp_path) as lock:
        assert {gone.pid for gone in lock.stale} == {dead.pid}
        assert all(isinstance(gone, Holder) and gone.run_dir == "killed-run" for gone in lock.stale)


def test_rollback_refuses_a_run_that_is_still_going(tmp_path: Path) -> None:
    """Rolling back a live run would undo its faults under it; stopping it is the way (it reverts them itself)."""
    run_dir = tmp_path / "live-run"
    run_dir.mkdir()
    (run_dir / "journal.jsonl").write_text("", encoding="utf-8")
    holder = (
        "from pathlib import Path; import sys, time\n"
        "from mlchaos.experiments.runlock import acquire\n"
        f"lock = acquire({ENDPOINTS!r}, run_dir=Path(sys.argv[1]), scenario='live', directory=Path(sys.argv[2]))\n"
        "print('locked', flush=True)\n"
        "time.sleep(120)\n"
    )
    live = subprocess.Popen(
        [sys.executable, "-c", holder, str(run_dir), str(tmp_path / "locks")],
        stdout=subprocess.PIPE,
        text=True,
    )
    env = {**os.environ, "MLCHAOS_LOCK_DIR": str(tmp_path / "locks"), "COLUMNS": "200"}
    mlchaos = [str(Path(sys.executable).with_name("mlchaos")), "rollback", str(run_dir)]
    try:
        assert live.stdout is not None and live.stdout.readline().strip() == "locked"
        refused = subprocess.run(mlchaos, capture_output=True, text=True, env=env, timeout=60)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert f"is still running (pid {live.pid}, scenario 'live')" in refused.stderr
        forced = subprocess.run([*mlchaos, "--force"], capture_output=True, text=True, env=env, timeout=60)
        assert forced.returncode == 0, forced.stdout + forced.stderr
    finally:
        live.kill()
        live.communicate(timeout=10)
    after_death = subprocess.run(mlchaos, capture_output=True, text=True, env=env, timeout=60)
    assert after_death.returncode == 0, after_death.stdout + after_death.stderr
    assert "nothing to undo" in after_death.stdout
