"""The error tree and the exit codes: every error mlchaos raises on purpose derives from :class:`MlchaosError`.

    MlchaosError                 an error mlchaos anticipates; the message says what and what to do
    ├── InvalidInput     exit 2  a file, option or dataset the user gave cannot be used; nothing was touched
    ├── TargetUnusable   exit 2  the target cannot be used as declared or found (preflight, request schema,
    │                            production guard, another run holding it, a stack that does not start)
    ├── FaultError       exit 3  a fault could not be prepared, applied or reverted
    ├── LoadFailure      exit 3  the load generator could not start, died or sent something it should not
    └── RunStopped       exit 3  a run or a part of it stops early on purpose (guardrail, signal, a spent budget)

A few classes keep a standard exception as a second base (``ValueError``, ``OSError``, requests' exceptions):
pydantic turns a ``ValueError`` raised in a validator into a located problem, and Locust and requests catch their
own types around a request. Anything that is neither an ``MlchaosError`` nor an ``OSError`` (the machine or the
network) is a bug in mlchaos: :mod:`mlchaos.experiments.crash` saves its traceback and the command exits 3.

The exit code of a failure depends on when it happens as much as on its class — an ``InjectorError`` while
planning means the target does not fit the fault (2), while injecting it aborts the run (3) — so callers that know
the phase pick the code; :attr:`MlchaosError.exit_code` is what an error no caller handled exits with.
"""

from __future__ import annotations

import enum
from typing import ClassVar


class ExitCode(enum.IntEnum):
    """What ``mlchaos run`` (and every other command) exits with; README's exit code table."""

    OK = 0
    VERIFIER_FAILED = 1
    INVALID = 2
    """The scenario, an option or the target is invalid or busy: nothing was touched."""
    ABORTED = 3
    """The run stopped early (a guardrail, an error, a signal, a bug in mlchaos) and every fault was reverted."""
    ROLLBACK_FAILED = 4


class MlchaosError(Exception):
    """An error mlchaos anticipates; its message is written for the person running it."""

    exit_code: ClassVar[ExitCode] = ExitCode.ABORTED


class InvalidInput(MlchaosError):
    """A file, option or dataset the user gave cannot be used; nothing was touched."""

    exit_code = ExitCode.INVALID


class TargetUnusable(MlchaosError):
    """The target cannot be used as declared or as found; nothing was touched."""

    exit_code = ExitCode.INVALID


class FaultError(MlchaosError):
    """A fault could not be prepared, applied or reverted."""


class LoadFailure(MlchaosError):
    """The load generator could not start, died before finishing, or did something it must not."""


class RunStopped(MlchaosError):
    """A run, or a step of it, stops early on purpose; the message says why. Rollback still runs."""
