"""The load secret: what a distributed load's master and workers prove to each other that they hold.

A run with local workers generates one per load (:func:`generate`) and hands it to its worker processes in their
environment, never on their command line (``ps`` shows command lines to every user). A run at ``--worker-bind``
and the ``mlchaos load-worker`` processes serving it must be given the same one: in ``MLCHAOS_LOAD_SECRET``, or
in a file named by ``--secret-file`` / ``MLCHAOS_LOAD_SECRET_FILE`` that only its owner may read. The chart keeps
it in a Kubernetes Secret.

This module only reads and checks secrets (no ZeroMQ, no Locust): the CLI checks them before a run starts.
:mod:`~mlchaos.experiments.load.secure_rpc` turns a secret into the connection's keys.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from mlchaos.experiments.errors import InvalidInput

SECRET_ENV = "MLCHAOS_LOAD_SECRET"
SECRET_FILE_ENV = "MLCHAOS_LOAD_SECRET_FILE"
MIN_CHARS = 16
HOW_TO_SET = (
    f"set {SECRET_ENV} to a secret of at least {MIN_CHARS} characters (e.g. `openssl rand -hex 24`), the same for "
    "the run and its `mlchaos load-worker` processes, or pass --secret-file PATH (a file only its owner can read)"
)


class LoadSecretError(ValueError, InvalidInput):
    """No usable load secret: the message says what is wrong and how to set one."""


def generate() -> str:
    """A fresh secret for one load with local workers."""
    return secrets.token_urlsafe(32)


def checked(secret: str, where: str) -> str:
    """``secret`` without surrounding whitespace; :class:`LoadSecretError` if it is too short to be one."""
    secret = secret.strip()
    if len(secret) < MIN_CHARS:
        raise LoadSecretError(
            f"the load secret in {where} has {len(secret)} characters, fewer than {MIN_CHARS}"
        )
    return secret


def read_file(path: Path) -> str:
    """The secret in ``path``; refused when other users could read it (or it is not a regular file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise LoadSecretError(f"cannot read the load secret file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "r", encoding="utf-8") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise LoadSecretError(f"the load secret file {path} is not a regular file")
        if info.st_mode & 0o077:
            raise LoadSecretError(
                f"the load secret file {path} is readable by other users (mode {stat.S_IMODE(info.st_mode):04o}): "
                f"`chmod 600 {path}`"
            )
        try:
            text = file.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise LoadSecretError(f"cannot read the load secret file {path}: {exc}") from None
    return checked(text, str(path))


def from_environment(environ: Mapping[str, str] = os.environ) -> str | None:
    """The secret configured for this process (``MLCHAOS_LOAD_SECRET``, else the file ``MLCHAOS_LOAD_SECRET_FILE``
    names); ``None`` when neither is set, :class:`LoadSecretError` when the one set is unusable."""
    if environ.get(SECRET_ENV):
        return checked(environ[SECRET_ENV], SECRET_ENV)
    if environ.get(SECRET_FILE_ENV):
        return read_file(Path(environ[SECRET_FILE_ENV]))
    return None


def required(environ: Mapping[str, str] = os.environ) -> str:
    """:func:`from_environment`, refusing when none is configured."""
    secret = from_environment(environ)
    if secret is None:
        raise LoadSecretError(f"no load secret is configured: {HOW_TO_SET}")
    return secret
