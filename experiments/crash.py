"""A bug in mlchaos reported as one: its traceback saved to a file, a message saying so, exit 3.

An exception that is neither an :class:`~mlchaos.experiments.errors.MlchaosError` (an error mlchaos anticipates,
with a message written for the user) nor an ``OSError`` (the machine or the network: a full disk, a refused
connection) is a bug. It must never pass for invalid input or an unusable target (exit 2): the user would go and
fix a file that is fine. Whoever catches one — the engine around a run, the CLI around a command, a library
caller — reverts what was applied as for any other failure, then calls :func:`report_bug` and exits (or returns)
with :data:`BUG_EXIT_CODE`, which is the code of an aborted run: the run did stop early, and its faults were
reverted.
"""

from __future__ import annotations

import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

from mlchaos.experiments.errors import ExitCode, MlchaosError
from mlchaos.experiments.redaction import redact_text

CRASH_NAME = "crash.txt"
BUG_EXIT_CODE = ExitCode.ABORTED

_fallback_dir: Path | None = None


def is_bug(exc: BaseException) -> bool:
    """Whether ``exc`` is a bug in mlchaos rather than an error it anticipates or one of the machine's."""
    return isinstance(exc, Exception) and not isinstance(exc, MlchaosError | OSError)


@dataclass(frozen=True)
class BugReport:
    error: BaseException
    traceback_file: Path | None
    """Where the traceback was saved; ``None`` when no file could take it."""

    @property
    def message(self) -> str:
        where = (
            f"traceback in {self.traceback_file}"
            if self.traceback_file is not None
            else "its traceback could not be saved"
        )
        return f"bug in mlchaos: {type(self.error).__name__}: {self.error} ({where}; please report it)"


def crashes_saved_under(directory: Path) -> None:
    """Where :func:`report_bug` saves a traceback it is given no directory for: a command that has an output
    folder (``mlchaos run --out``) names it once it knows it, so a bug outside any run lands beside the runs."""
    global _fallback_dir
    _fallback_dir = directory


def report_bug(exc: BaseException, directory: Path | None = None) -> BugReport:
    """Save ``exc``'s traceback (secrets in URLs masked) as ``directory/crash.txt`` — ``crash-1.txt`` … when one
    is there already (a suite's folder, a second bug) — else under the folder :func:`crashes_saved_under` named,
    else in a new temporary file. Never raises: the bug is what needs reporting, not a failure to save it."""
    text = redact_text("".join(traceback.format_exception(exc)))
    for folder in (directory, _fallback_dir):
        if folder is not None and (saved := _write_new(folder, text)) is not None:
            return BugReport(exc, saved)
    try:
        with tempfile.NamedTemporaryFile(
            "w", prefix="mlchaos-crash-", suffix=".txt", delete=False, encoding="utf-8"
        ) as file:
            file.write(text)
        return BugReport(exc, Path(file.name))
    except OSError:
        return BugReport(exc, None)


def _write_new(folder: Path, text: str) -> Path | None:
    stem, suffix = CRASH_NAME.rsplit(".", 1)
    for attempt in range(100):
        path = folder / (CRASH_NAME if attempt == 0 else f"{stem}-{attempt}.{suffix}")
        try:
            with path.open("x", encoding="utf-8") as file:
                file.write(text)
            return path
        except FileExistsError:
            continue
        except OSError:
            return None
    return None


def failure_message(exc: BaseException, directory: Path | None = None) -> str:
    """What to say of an exception that ended a run or a step of it: its message for an error mlchaos
    anticipates, with its type for one of the machine's, and for a bug a :func:`report_bug` message (its
    traceback saved under ``directory``)."""
    if isinstance(exc, MlchaosError):
        return str(exc)
    if not is_bug(exc):
        return f"{type(exc).__name__}: {exc}"
    return report_bug(exc, directory).message
