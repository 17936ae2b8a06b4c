"""The private directory of the run locks: the current user's alone, or refused.

A lock directory other users can write to is a place to plant symbolic links: a run that opens ``X.lock`` there
would open (and write) whatever file the link points to, with its own rights — root's, often. So the locks live in
a per-user directory, and every directory on the way to them that mlchaos creates is checked before a lock file is
opened in it: a real directory (not a link), owned by the current user, with no access for group or others. One
that fails is refused, saying what is wrong and how to fix it; mlchaos never changes the mode or owner of a
directory it did not make as it wants it — it may have been planted.

Where (:func:`lock_location`):

- ``$MLCHAOS_LOCK_DIR`` when set (the directory itself is checked; it is created, mode 0700, if missing);
- else ``$XDG_RUNTIME_DIR/mlchaos/locks`` when ``$XDG_RUNTIME_DIR`` is a directory of the current user's;
- else ``/tmp/mlchaos-UID/locks``.

The checks are made on open descriptors (``O_NOFOLLOW``, then ``fstat``), and lock files are opened relative to the
checked directory's descriptor, so nothing can be swapped in between the check and the use.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from mlchaos.experiments.errors import TargetUnusable

LOCK_DIR_ENV = "MLCHAOS_LOCK_DIR"
SHARED_TMP = Path("/tmp")
"""The machine's shared temporary directory. Not ``tempfile.gettempdir()``: runs of one user with different
``$TMPDIR``s must still meet in one lock directory."""
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class LockDirUnsafe(OSError, TargetUnusable):
    """The lock directory (or one on the way to it) is not private to the current user; the message says why."""


@dataclass(frozen=True)
class LockLocation:
    """The lock directory, and where the checks start: every directory below ``trusted`` down to ``path`` must
    be the current user's and private."""

    path: Path
    trusted: Path

    @property
    def checked(self) -> tuple[str, ...]:
        return self.path.relative_to(self.trusted).parts


def lock_location() -> LockLocation:
    """Where this user's lock files live (see the module's docstring)."""
    if chosen := os.environ.get(LOCK_DIR_ENV):
        path = Path(chosen).absolute()
        return LockLocation(path, path.parent)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_absolute() and _is_mine(Path(runtime)):
        return LockLocation(Path(runtime) / "mlchaos" / "locks", Path(runtime))
    return LockLocation(SHARED_TMP / f"mlchaos-{os.geteuid()}" / "locks", SHARED_TMP)


def lock_dir() -> Path:
    return lock_location().path


def open_lock_dir(location: LockLocation | None = None, *, create: bool = True) -> int:
    """A descriptor of the checked lock directory (created, mode 0700, where missing and ``create``).

    Raises :class:`LockDirUnsafe` saying what is wrong and how to fix it, ``FileNotFoundError`` when it does not
    exist and not ``create``, or another ``OSError`` (e.g. a read-only disk).
    """
    location = location or lock_location()
    if not location.checked:  # `/`: nothing below the trusted directory to check
        raise LockDirUnsafe(
            f"{location.path} cannot be a lock directory: set {LOCK_DIR_ENV} to a directory of yours"
        )
    if create:
        location.trusted.mkdir(parents=True, exist_ok=True)  # $MLCHAOS_LOCK_DIR's parents: the user's choice
    descriptor = os.open(location.trusted, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    path = location.trusted
    try:
        for name in location.checked:
            path = path / name
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o700, dir_fd=descriptor)
            child = _open_checked(name, descriptor, path)
            os.close(descriptor)
            descriptor = child
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def _open_checked(name: str, parent: int, path: Path) -> int:
    try:
        child = os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        if os.path.islink(path):
            raise LockDirUnsafe(
                f"{path} is a symbolic link (to {os.readlink(path)}), not a directory: mlchaos keeps its lock "
                f"files only in a directory of yours. Remove the link (another user may have planted it: see "
                f"`ls -la {path.parent}`), or set {LOCK_DIR_ENV} to a directory of yours with mode 0700"
            ) from None
        if isinstance(exc, NotADirectoryError):
            raise LockDirUnsafe(
                f"{path} is not a directory: remove it, or set {LOCK_DIR_ENV} to a directory of yours with mode 0700"
            ) from None
        raise
    try:
        _require_private(os.fstat(child), path)
    except BaseException:
        os.close(child)
        raise
    return child


def _require_private(status: os.stat_result, path: Path) -> None:
    me = os.geteuid()
    if status.st_uid != me:
        raise LockDirUnsafe(
            f"{path} belongs to {_user(status.st_uid)}, not to you ({_user(me)}): a lock directory another user "
            f"owns lets them redirect your lock files (planted links). Remove it (its owner or root can), or set "
            f"{LOCK_DIR_ENV} to a directory of yours with mode 0700"
        )
    if status.st_mode & 0o077:
        mode = stat.S_IMODE(status.st_mode)
        raise LockDirUnsafe(
            f"{path} has mode {mode:04o}: group or others can use it, and lock files must be yours alone. "
            f"Check what is in it, then `chmod 700 {path}` — or set {LOCK_DIR_ENV} to another directory"
        )


def _is_mine(path: Path) -> bool:
    try:
        status = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(status.st_mode) and status.st_uid == os.geteuid() and not status.st_mode & 0o022


def _user(uid: int) -> str:
    try:
        return f"user {pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"
