"""One run at a time per target: two experiments against the same service would ruin each other's numbers, and one
run's rollback would undo the other's faults.

A run locks every endpoint it acts on (the service, toxiproxy, supervisord; for Kubernetes, the cluster's namespace
and workloads) before preflight, and holds the locks until its rollback is done. Endpoints are locked by canonical
key (:mod:`mlchaos.experiments.lock_keys`): ``localhost:8080``, ``127.0.0.1:8080`` and ``LOCALHOST.:8080`` are one
lock. The locks are ``flock(2)`` locks on files in the lock directory — one file per key — so the kernel releases
them when the holder dies, even by SIGKILL: a stale lock is never a reason to refuse. Each file says who holds it
(pid, run directory, scenario, the endpoint as that run named it, since when), for the refusal message; nothing
else, and no secret.

The lock directory is private to the user (:mod:`mlchaos.experiments.lock_dir`): a directory shared by all users
let any of them plant a symbolic link where a root run would open its lock file, and have that run truncate and
rewrite any file on the machine. Lock files are opened without following links and never chmodded. The price:
runs by *different* users are not coordinated by these locks — a machine shared by several users of one target
should run mlchaos as one (service) user, or give each user their own target. Their faults still cannot undo each
other's: each run names its fault artefacts (toxics) after itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import psutil
from pydantic import BaseModel, ConfigDict, ValidationError

from mlchaos.experiments.errors import TargetUnusable
from mlchaos.experiments.lock_dir import (
    LOCK_DIR_ENV,
    LockDirUnsafe,
    LockLocation,
    lock_dir,
    lock_location,
    open_lock_dir,
)
from mlchaos.experiments.lock_keys import ClusterScope, Endpoint, lock_keys

__all__ = [
    "LOCK_DIR_ENV",
    "ClusterScope",
    "Endpoint",
    "Holder",
    "LockUnavailable",
    "RunLock",
    "TargetBusy",
    "acquire",
    "lock_dir",
    "lock_path",
    "lock_paths",
    "read_holder",
    "running_holder",
]

_FILE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


class Holder(BaseModel):
    """Who holds (or last held) a lock, as written into its file."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    pid: int
    run_dir: str
    scenario: str
    since: float
    endpoint: str = ""
    """The endpoint as the holder named it (another name of it may be what a refused run asked for)."""

    def describe(self) -> str:
        when = datetime.fromtimestamp(self.since, UTC).strftime("%H:%M:%S UTC")
        named = f", which it names {self.endpoint}" if self.endpoint else ""
        return (
            f"pid {self.pid}, scenario '{self.scenario}', run directory {self.run_dir}, since {when}{named}"
        )


class TargetBusy(TargetUnusable):
    """Another run holds the lock of an endpoint this run would act on."""

    def __init__(self, endpoint: str, holder: Holder | None, path: Path) -> None:
        self.endpoint, self.holder, self.path = endpoint, holder, path
        who = holder.describe() if holder else f"a process that has not written {path} yet"
        super().__init__(
            f"target busy: another mlchaos run is using {endpoint} ({who}); "
            "wait for it to finish — the lock goes with its process, even if it is killed"
        )


class LockUnavailable(TargetUnusable):
    """The lock file cannot be created or locked: the lock directory is not private to the user (the message says
    what is wrong and how to fix it), or not writable."""


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


def lock_paths(endpoint: Endpoint, directory: Path | None = None) -> tuple[Path, ...]:
    """The lock files of an endpoint, one per canonical key (:func:`~mlchaos.experiments.lock_keys.lock_keys`)."""
    return tuple((directory or lock_dir()) / f"{key}.lock" for key in lock_keys(endpoint))


def lock_path(endpoint: Endpoint, directory: Path | None = None) -> Path:
    """The first of :func:`lock_paths` (the only one for an endpoint with one address, as most have)."""
    return lock_paths(endpoint, directory)[0]


def read_holder(path: Path) -> Holder | None:
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(descriptor, encoding="utf-8") as file:
        return _holder_in(file)


def acquire(
    endpoints: Iterable[Endpoint], *, run_dir: Path, scenario: str, directory: Path | None = None
) -> RunLock:
    """Lock every endpoint (by canonical key, in a fixed order, so two runs never deadlock each other), or raise
    :class:`TargetBusy` naming the holder — having taken none — or :class:`LockUnavailable`."""
    location = _location(directory)
    named: dict[str, str] = {}
    for endpoint in endpoints:
        for key in lock_keys(endpoint):
            named.setdefault(key, str(endpoint))
    lock = RunLock(files=[], stale=[])
    seen: set[tuple[int, float]] = set()
    try:
        folder = open_lock_dir(location)
    except LockDirUnsafe as exc:
        raise LockUnavailable(f"refusing the lock directory: {exc}") from None
    except OSError as exc:
        raise LockUnavailable(f"cannot lock the target in {location.path}: {exc}") from exc
    try:
        for key in sorted(named):
            path = location.path / f"{key}.lock"
            file = _open_lock_file(f"{key}.lock", folder, path)
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder_in(file)
                file.close()
                raise TargetBusy(named[key], holder, path) from None
            lock.files.append(file)
            previous = _holder_in(file)
            if (
                previous is not None
                and previous.pid != os.getpid()
                and (previous.pid, previous.since) not in seen
            ):
                seen.add((previous.pid, previous.since))
                lock.stale.append(previous)
            holder = Holder(
                pid=os.getpid(),
                run_dir=str(run_dir),
                scenario=scenario,
                since=time.time(),
                endpoint=named[key],
            )
            file.seek(0)
            file.truncate()
            file.write(holder.model_dump_json())
            file.flush()
    except OSError as exc:
        lock.release()
        raise LockUnavailable(f"cannot lock the target in {location.path}: {exc}") from exc
    except BaseException:
        lock.release()
        raise
    finally:
        os.close(folder)
    return lock


def running_holder(run_dir: Path, directory: Path | None = None) -> Holder | None:
    """The holder of a lock taken by the run in ``run_dir`` if that run's process is still alive, else None.

    Read from the holder records only, never by locking: a probe lock could make a run starting at that moment
    refuse its own target. A pid reused since is told apart by its start time. A lock directory that is missing or
    not private holds no lock of a run (runs refuse such a directory), so it gives None.
    """
    try:
        folder = open_lock_dir(_location(directory), create=False)
    except OSError:
        return None
    try:
        names = sorted(name for name in os.listdir(folder) if name.endswith(".lock"))
        wanted = run_dir.resolve()
        for name in names:
            try:
                descriptor = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
            except OSError:
                continue
            with os.fdopen(descriptor, encoding="utf-8") as file:
                holder = _holder_in(file)
            if holder is None or holder.pid == os.getpid() or Path(holder.run_dir).resolve() != wanted:
                continue
            try:
                started = psutil.Process(holder.pid).create_time()
            except psutil.Error:
                continue
            if started <= holder.since + 1.0:
                return holder
    except OSError:
        return None
    finally:
        os.close(folder)
    return None


def _location(directory: Path | None) -> LockLocation:
    if directory is None:
        return lock_location()
    directory = directory.absolute()
    return LockLocation(directory, directory.parent)


def _open_lock_file(name: str, folder: int, path: Path) -> IO[str]:
    """Open (creating, mode 0600) a lock file in the checked directory; never through a link, never chmodded."""
    try:
        descriptor = os.open(name, _FILE_FLAGS, 0o600, dir_fd=folder)
    except OSError:
        if os.path.islink(path):
            raise LockUnavailable(
                f"{path} is a symbolic link, not a lock file: refused (lock files are never opened through links); "
                "remove it"
            ) from None
        raise
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode) or status.st_uid != os.geteuid():
        os.close(descriptor)
        raise LockUnavailable(f"{path} is not a regular file of yours: refused; remove it")
    return os.fdopen(descriptor, "r+", encoding="utf-8")


def _holder_in(file: IO[str]) -> Holder | None:
    try:
        file.seek(0)
        return Holder.model_validate_json(file.read())
    except (OSError, ValueError, ValidationError):
        return None
