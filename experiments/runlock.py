"""One run at a time per target: two experiments against the same service would ruin each other's numbers, and one
run's rollback would undo the other's faults.

A run locks every endpoint it acts on (the service, toxiproxy, supervisord) before preflight, and holds the locks
until its rollback is done. The locks are ``flock(2)`` locks on files in :func:`lock_dir` — one file per endpoint,
named after it — so the kernel releases them when the holder dies, even by SIGKILL: a stale lock is never a
reason to refuse. Each file says who holds it (pid, run directory, scenario, since when), for the refusal message.
Targets are loopback-only (see :mod:`mlchaos.experiments.targets`), so a lock on this machine covers every run
that can reach the same target.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import psutil
from pydantic import BaseModel, ConfigDict, ValidationError

LOCK_DIR_ENV = "MLCHAOS_LOCK_DIR"


def lock_dir() -> Path:
    """``$MLCHAOS_LOCK_DIR``, else ``mlchaos-locks`` in the system's temporary directory (shared by all users of
    the machine, as the target is)."""
    return Path(os.environ.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / "mlchaos-locks")


class Holder(BaseModel):
    """Who holds (or last held) a lock, as written into its file."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    pid: int
    run_dir: str
    scenario: str
    since: float

    def describe(self) -> str:
        when = datetime.fromtimestamp(self.since, UTC).strftime("%H:%M:%S UTC")
        return f"pid {self.pid}, scenario '{self.scenario}', run directory {self.run_dir}, since {when}"


class TargetBusy(Exception):
    """Another run holds the lock of an endpoint this run would act on."""

    def __init__(self, endpoint: str, holder: Holder | None, path: Path) -> None:
        self.endpoint, self.holder, self.path = endpoint, holder, path
        who = holder.describe() if holder else f"a process that has not written {path} yet"
        super().__init__(
            f"target busy: another mlchaos run is using {endpoint} ({who}); "
            "wait for it to finish — the lock goes with its process, even if it is killed"
        )


class LockUnavailable(Exception):
    """The lock file cannot be created or locked (e.g. the lock directory is not writable)."""


@dataclass
class RunLock:
    """The locks of one run; :meth:`release` (or leaving the ``with`` block) frees them."""

    files: list[IO[str]]
    stale: list[Holder]
    """Earlier holders whose process is gone (they were killed): their locks were taken over."""

    def release(self) -> None:
        for file in self.files:
            with contextlib.suppress(OSError):
                # Emptied while still held: a lock file with a holder in it means that holder died holding it.
                file.seek(0)
                file.truncate()
            with contextlib.suppress(OSError):
                file.close()  # closing the descriptor drops the flock
        self.files = []

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_path(endpoint: str, directory: Path | None = None) -> Path:
    """The lock file of an endpoint: its URL with everything but letters, digits, ``.`` and ``-`` as ``_``."""
    name = re.sub(r"[^A-Za-z0-9.-]+", "_", endpoint.rstrip("/")).strip("_")
    return (directory or lock_dir()) / f"{name[:200]}.lock"


def read_holder(path: Path) -> Holder | None:
    try:
        return Holder.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError):
        return None


def acquire(
    endpoints: Iterable[str], *, run_dir: Path, scenario: str, directory: Path | None = None
) -> RunLock:
    """Lock every endpoint (in a fixed order, so two runs never deadlock each other), or raise
    :class:`TargetBusy` naming the holder — having taken none — or :class:`LockUnavailable`."""
    directory = directory or lock_dir()
    holder = Holder(pid=os.getpid(), run_dir=str(run_dir), scenario=scenario, since=time.time())
    lock = RunLock(files=[], stale=[])
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # shared by every user of the machine; fine if it is not ours
            directory.chmod(0o1777)
        for endpoint in sorted(set(endpoints)):
            path = lock_path(endpoint, directory)
            file = _open_shared(path)
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                file.close()
                raise TargetBusy(endpoint, read_holder(path), path) from None
            previous = read_holder(path)
            if previous is not None and previous.pid != holder.pid and previous not in lock.stale:
                lock.stale.append(previous)
            file.seek(0)
            file.truncate()
            file.write(holder.model_dump_json())
            file.flush()
            lock.files.append(file)
    except OSError as exc:
        lock.release()
        raise LockUnavailable(f"cannot lock the target in {directory}: {exc}") from exc
    except BaseException:
        lock.release()
        raise
    return lock


def running_holder(run_dir: Path, directory: Path | None = None) -> Holder | None:
    """The holder of a lock taken by the run in ``run_dir`` if that run's process is still alive, else None.

    Read from the holder records only, never by locking: a probe lock could make a run starting at that moment
    refuse its own target. A pid reused since is told apart by its start time.
    """
    directory = directory or lock_dir()
    try:
        paths = sorted(directory.glob("*.lock"))
    except OSError:
        return None
    wanted = run_dir.resolve()
    for path in paths:
        holder = read_holder(path)
        if holder is None or holder.pid == os.getpid() or Path(holder.run_dir).resolve() != wanted:
            continue
        try:
            started = psutil.Process(holder.pid).create_time()
        except psutil.Error:
            continue
        if started <= holder.since + 1.0:
            return holder
    return None


def _open_shared(path: Path) -> IO[str]:
    """Open (creating) a lock file every user may lock: runs by different users share the target."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    with contextlib.suppress(OSError):
        os.fchmod(descriptor, 0o666)
    return os.fdopen(descriptor, "r+", encoding="utf-8")
