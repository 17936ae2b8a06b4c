"""Circuit-breaker behaviour as the probes saw it (see :class:`~mlchaos.experiments.records.ProbeSample`).

Two kinds of evidence, with different blind spots, so verifiers use whichever shows an event first:

- **state samples** ``breaker:<dependency>`` (``value`` = ``closed`` / ``open`` / ``half_open``) miss a state
  that lasted less than the sampling interval (~250 ms);
- **transition counters** ``transitions:<dependency>:<from>><to>`` (``number``) see every transition, but they
  count since the *service* started — they are non-zero before the run if the service ran before — so only their
  increases mean anything. An increase is taken sample to sample; a drop is a service restart (the counter reset)
  and, as Prometheus' ``increase()`` does, the value after the drop is the increase.

An event is dated at the ``ts`` of the first sample that shows it: at most one sampling interval late, never early.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlchaos.experiments.records import BreakerState

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED.value, BreakerState.OPEN.value, BreakerState.HALF_OPEN.value
NOT_CLOSED = frozenset({OPEN, HALF_OPEN})


@dataclass(frozen=True)
class Series:
    """Sample times and values of one check, sorted by time."""

    ts: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)


EMPTY = Series(np.empty(0), np.empty(0))


def dependencies(probes: pd.DataFrame) -> list[str]:
    """Every dependency that has a breaker state or a transition counter in the probes."""
    checks = pd.Series(probes["check"].unique(), dtype=object)
    found = checks.str.extract(r"^(?:breaker:(.+)|transitions:(.+):[a-z_]+>[a-z_]+)$")
    names = found[0].fillna(found[1]).dropna()
    return sorted(set(names))


def states(probes: pd.DataFrame, dependency: str) -> Series:
    rows = probes[(probes["check"] == f"breaker:{dependency}") & probes["value"].notna()]
    rows = rows.sort_values("ts", kind="stable")
    return Series(rows["ts"].to_numpy(dtype=float), rows["value"].to_numpy(dtype=object))


def counter(probes: pd.DataFrame, dependency: str, old: str, new: str) -> Series:
    rows = probes[(probes["check"] == f"transitions:{dependency}:{old}>{new}") & probes["number"].notna()]
    rows = rows.sort_values("ts", kind="stable")
    return Series(rows["ts"].to_numpy(dtype=float), rows["number"].to_numpy(dtype=float))


def increases(counts: Series, since: float) -> Series:
    """Samples after ``since`` at which the counter rose, with how much it rose.

    The baseline is the last sample at or before ``since``; without one, the first sample after it (a transition
    in that very sample is then indistinguishable from the service's history, and only the state samples show it).
    """
    first_after = int(np.searchsorted(counts.ts, since, side="right"))
    base = max(first_after - 1, 0)
    ts, values = counts.ts[base:], counts.values[base:]
    if len(values) < 2:
        return EMPTY
    steps = np.diff(values)
    amounts = np.where(steps >= 0, steps, values[1:])
    rose = amounts > 0
    return Series(ts[1:][rose], amounts[rose])


def first_increase(counts: Series, since: float, until: float) -> float | None:
    """When the counter was first seen higher than before ``since`` (a sample in ``(since, until]``)."""
    rises = increases(counts, since)
    hit = rises.ts[rises.ts <= until]
    return float(hit[0]) if len(hit) else None


def first_state(samples: Series, since: float, until: float, wanted: frozenset[str]) -> float | None:
    """First sample in ``[since, until]`` whose state is in ``wanted``."""
    hit = samples.ts[(samples.ts >= since) & (samples.ts <= until) & np.isin(samples.values, list(wanted))]
    return float(hit[0]) if len(hit) else None


def first_leaving_closed(samples: Series, since: float, until: float) -> float | None:
    """First sample in ``(since, until]`` that is not ``closed`` while the sample before it was ``closed``.

    The sample before may be the last one at or before ``since``: a breaker already open when the fault came did
    not open *because of* it. Without any sample before, the breaker is taken as closed (breakers start closed),
    so a fault at the very start of the run still counts.
    """
    first_after = int(np.searchsorted(samples.ts, since, side="right"))
    ts, values = samples.ts[first_after:], samples.values[first_after:]
    if not len(ts):
        return None
    prior = samples.values[first_after - 1] if first_after > 0 else CLOSED
    previous = np.concatenate(([prior], values[:-1]))
    left = (previous == CLOSED) & np.isin(values, list(NOT_CLOSED)) & (ts <= until)
    hit = ts[left]
    return float(hit[0]) if len(hit) else None


def exits_from_closed(samples: Series, since: float, until: float) -> int:
    """How many times consecutive state samples in ``[since, until]`` went from ``closed`` to another state.

    The only way out of ``closed`` is to open, so each exit is at least one ``closed>open`` transition.
    """
    inside = samples.values[(samples.ts >= since) & (samples.ts <= until)]
    return int(np.sum((inside[:-1] == CLOSED) & np.isin(inside[1:], list(NOT_CLOSED))))


def state_at(samples: Series, moment: float) -> str | None:
    """The state of the last sample at or before ``moment``."""
    index = int(np.searchsorted(samples.ts, moment, side="right")) - 1
    return str(samples.values[index]) if index >= 0 else None


def first_reaction(probes: pd.DataFrame, dependency: str, since: float, until: float) -> float | None:
    """First sign in ``(since, until]`` that the breaker left ``closed``: state samples or the counter."""
    seen = [
        first_leaving_closed(states(probes, dependency), since, until),
        first_increase(counter(probes, dependency, CLOSED, OPEN), since, until),
    ]
    return min((t for t in seen if t is not None), default=None)


UNDECLARED = "the target declares no breaker signals (signals.breakers or signals.transitions)"
"""Why a run has no breaker data at all: the prober samples declared signals only."""


def missing_data(probes: pd.DataFrame, dependency: str) -> str | None:
    """Why the probes cannot show breaker ``dependency``'s behaviour, or ``None`` when they can (a state sample,
    or a transition counter). Names the declaration that is missing, the breakers that were seen instead, and
    the samples that could not be read (a value no declared state maps, an unreadable /metrics or Prometheus)."""
    has_counter = (
        probes["check"].astype(str).str.startswith(f"transitions:{dependency}:") & probes["number"].notna()
    )
    if len(states(probes, dependency)) or has_counter.any():
        return None
    checks = probes["check"].astype(str)
    about = (
        (checks == f"breaker:{dependency}")
        | checks.str.startswith(("signal:breakers", "signal:transitions"))
        | (checks == "metrics")
    )
    failed = probes[
        about & (probes["error"].notna() | (checks == "metrics"))
    ]  # "metrics": only when unreadable
    others = [d for d in dependencies(probes) if d != dependency]
    reasons = []
    if others:
        reasons.append(
            f"breakers seen: {', '.join(others)} (is '{dependency}' named so in the target's signals?)"
        )
    if not failed.empty:
        errors = failed["error"].dropna()
        first = f" (first: {errors.iloc[0]})" if len(errors) else ""
        reasons.append(f"{len(failed)} probe samples could not be read{first}")
    return f"no probe data for breaker '{dependency}': " + ("; ".join(reasons) or UNDECLARED)


def blind_spots(probes: pd.DataFrame, wanted: tuple[str, ...]) -> str:
    """What the probes cannot show of the breakers ``wanted`` (any breaker when empty), as a parenthesis for an
    explanation that found no breaker reacting; empty when every one of them has data."""
    if not wanted:
        return "" if dependencies(probes) else f" ({UNDECLARED})"
    missing = [reason for dependency in wanted if (reason := missing_data(probes, dependency)) is not None]
    return f" ({'; '.join(missing)})" if missing else ""
