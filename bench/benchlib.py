"""What every benchmark shares: the machine it ran on, robust summaries of repeated measurements, and writing a
table into its own section of bench/README.md.

Each benchmark owns the part of bench/README.md between ``<!-- BENCH:<name>:START -->`` and
``<!-- BENCH:<name>:END -->``; everything outside the markers is prose kept by hand.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

README = Path(__file__).with_name("README.md")
ROOT = README.parent.parent
DATASET = ROOT / "scenarios" / "data" / "transactions.jsonl"
WINDOW_MARGIN_S = 1.0
"""Load benchmarks measure from this long after the start to this long before the end: no ramp-up, no stop."""
BUSY_LOAD_PER_CORE = 0.5
"""A one-minute load average above this per core means other work shared the machine while we measured."""


def machine() -> str:
    """CPU model, cores, RAM, OS and Python: the line every table is stamped with."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "unknown CPU",
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    system = f"{platform.platform()}, Python {platform.python_version()}"
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, {system}"


def stamp(load_before: float) -> str:
    """The 'measured on' line; says so when the machine was busy (load average before or after the run)."""
    cores = os.cpu_count() or 1
    load = max(load_before, os.getloadavg()[0])
    busy = (
        f" The machine was shared with other work (load average up to {load:.1f} on {cores} cores), so these "
        "figures are noisy and on the slow side."
        if load > BUSY_LOAD_PER_CORE * cores
        else ""
    )
    return f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} on: {machine()}.{busy}"


def median_spread(values: Sequence[float], digits: int = 0) -> str:
    """``median (min–max)``: the median resists one noisy repetition, the range shows how noisy they were."""
    if not values:
        return "—"
    mid = statistics.median(values)
    if len(values) == 1:
        return f"{mid:,.{digits}f}"
    return f"{mid:,.{digits}f} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"


def write_section(name: str, text: str, readme: Path = README) -> None:
    """Replace the text between this benchmark's markers in bench/README.md (appending them if missing)."""
    start, end = f"<!-- BENCH:{name}:START -->", f"<!-- BENCH:{name}:END -->"
    content = readme.read_text(encoding="utf-8") if readme.exists() else "# Benchmarks\n"
    if start in content and end in content:
        head, rest = content.split(start, 1)
        _, tail = rest.split(end, 1)
    else:
        head, tail = content.rstrip("\n") + "\n\n", "\n"
    readme.write_text(f"{head}{start}\n{text}\n{end}{tail}", encoding="utf-8")
