"""How large the files mlchaos reads may be: scenario, target and suite files, and load datasets.

Every one of them is read whole into memory (a dataset is replayed from memory, and travels to the load child and
to every worker), so a file that is far too large — a wrong path, a log file, a device — must be refused, naming
the file and the cap, before it is read, not found out as a process killed for its memory. The caps are constants
(not settings): a scenario is a page of YAML, and a load replays a few minutes of requests, which a dataset far
below the cap covers many times over. A team that needs more should say why (open an issue).
"""

from __future__ import annotations

from pathlib import Path

from mlchaos.experiments.errors import InvalidInput

MAX_YAML_BYTES = 1024 * 1024
"""Scenario, target and suite files."""
MAX_DATASET_BYTES = 64 * 1024 * 1024
"""A load dataset (JSONL); as large as the supplied samples an adversarial fault may name."""
MAX_DATASET_ROWS = 1_000_000
"""Requests in a load dataset."""


class FileTooLarge(ValueError, InvalidInput):
    """A file larger than its cap; the message says how large it may be."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        super().__init__(f"larger than {cap:,} bytes ({cap / 1024 / 1024:g} MiB)")


def read_limited(path: Path, cap: int) -> bytes:
    """The bytes of ``path``, or :class:`FileTooLarge` if it holds more than ``cap``: at most ``cap + 1`` bytes
    are read, so a device such as /dev/zero is refused too."""
    with path.open("rb") as file:
        data = file.read(cap + 1)
    if len(data) > cap:
        raise FileTooLarge(cap)
    return data


def check_size(path: Path, cap: int) -> None:
    """:class:`FileTooLarge` if the file at ``path`` is larger than ``cap`` (``OSError`` if it cannot be seen)."""
    if path.stat().st_size > cap:
        raise FileTooLarge(cap)


__all__ = [
    "MAX_DATASET_BYTES",
    "MAX_DATASET_ROWS",
    "MAX_YAML_BYTES",
    "FileTooLarge",
    "check_size",
    "read_limited",
]
