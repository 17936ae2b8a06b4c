"""Requests tagged by an ML input fault (the ``input`` column, ``"<family>:<name>"``) and what came back for them.

Shared by the input-fault verifiers (``bad_input_handling``, ``clean_traffic_unharmed``, ``adversarial_robustness``,
``ood_routing``, ``metamorphic``). Every mask here is vectorised: a million records take milliseconds.

What the target answered, per request:

- **4xx JSON**: a 4xx whose body was a JSON error (the load child writes ``error`` = ``"HTTP <status>"``; a body that
  is not JSON makes it ``"HTTP <status>: body is not JSON"``);
- **flagged**: a 2xx the target marked for review (response ``review``; the ``flagged`` column);
- **degraded**: a 2xx served by a tier of the target's ladder other than its first, best one (the fallback chain,
  not the main model); a tier not on the ladder is not degraded: nothing says the service noticed anything;
- **5xx** and **hang** (status 0: no response — timeout, reset, refused).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from mlchaos.experiments.verifiers.base import Cell, OutcomeTable, Recording
from mlchaos.experiments.verifiers.phases import answered, fault_end
from mlchaos.experiments.verifiers.tiers import from_tiers

INPUT_FAULT_KINDS = frozenset(
    {"corrupted_inputs", "adversarial_samples", "distribution_shift", "metamorphic"}
)
"""Fault kinds that change what the load sends (their windows are "input-fault windows")."""
NOT_JSON = "body is not JSON"


def tagged(requests: pd.DataFrame, family: str, names: Iterable[str] = ()) -> pd.DataFrame:
    """Requests whose ``input`` is ``<family>:<name>``, only the given ``names`` if any; empty on older records."""
    if "input" not in requests.columns:
        return requests.iloc[0:0]
    tags = requests["input"]
    wanted = tuple(names)
    mask = (
        tags.isin([f"{family}:{name}" for name in wanted])
        if wanted
        else tags.str.startswith(f"{family}:", na=False)
    )
    return plain_strings(requests[mask])


def plain_strings(requests: pd.DataFrame) -> pd.DataFrame:
    """``requests`` with categorical string columns (as a recording is read) as plain strings: a tagged share is
    small, and its verifiers set new values (``where``) and compare columns with each other, which a categorical
    refuses (new category; other categories)."""
    categorical = [c for c in requests.columns if isinstance(requests[c].dtype, pd.CategoricalDtype)]
    return requests.astype(dict.fromkeys(categorical, "str")) if categorical else requests


def clean(requests: pd.DataFrame) -> pd.DataFrame:
    """Requests no input fault touched (``input`` is null; all of them on older records)."""
    return requests if "input" not in requests.columns else requests[requests["input"].isna()]


def names(requests: pd.DataFrame) -> pd.Series:
    """The ``<name>`` part of each request's ``input`` tag."""
    parts: pd.Series = requests["input"].str.split(":", n=1).str[1]
    return parts


def flagged(requests: pd.DataFrame) -> pd.Series:
    """2xx answers the target flagged for review (``flagged`` true; unknown counts as not flagged)."""
    return answered(requests) & requests["flagged"].eq(True).fillna(False).astype(bool)  # NA: not reported


def degraded(requests: pd.DataFrame, tiers: Sequence[str]) -> pd.Series:
    """2xx answers from a tier of the ladder ``tiers`` (the recording's, best first) other than its first."""
    return answered(requests) & from_tiers(requests, tiers[1:], tiers)


def client_error(requests: pd.DataFrame) -> pd.Series:
    status = requests["status"]
    return (status >= 400) & (status < 500)


def json_client_error(requests: pd.DataFrame) -> pd.Series:
    """4xx answers whose body was a JSON error."""
    not_json = requests["error"].str.endswith(NOT_JSON, na=False)
    return client_error(requests) & ~not_json


def server_error(requests: pd.DataFrame) -> pd.Series:
    return requests["status"] >= 500


def hung(requests: pd.DataFrame) -> pd.Series:
    """No response at all: timeout, reset or refused (status 0)."""
    return requests["status"] == 0


def input_fault_windows(
    recording: Recording, fault_ids: Iterable[str] = ()
) -> list[tuple[str, float, float]]:
    """``(fault id, start, end)`` of the named faults, else of every input fault; ``[]`` if none was applied."""
    wanted = set(fault_ids)
    return [
        (fault.fault_id, fault.injected_at, fault_end(recording, fault))
        for fault in recording.faults
        if (fault.fault_id in wanted if wanted else fault.kind in INPUT_FAULT_KINDS)
    ]


def within(times: pd.Series, windows: Iterable[tuple[str, float, float]]) -> pd.Series:
    """Which ``times`` fall into any of ``windows`` (start inclusive, end exclusive)."""
    values = times.to_numpy(dtype=float)
    inside = np.zeros(len(values), dtype=bool)
    for _, start, end in windows:
        inside |= (values >= start) & (values < end)
    return pd.Series(inside, index=times.index)


def share(count: int, total: int) -> float | None:
    return count / total if total else None


def counts_table(
    title: str, key: pd.Series, columns: dict[str, pd.Series], extra: dict[str, pd.Series] | None = None
) -> OutcomeTable:
    """One row per value of ``key`` (sorted), ``sent`` then the count of each boolean column, then ``extra``
    (per-group values computed by the caller, indexed by key)."""
    frame = pd.DataFrame({name: mask.to_numpy(dtype=bool) for name, mask in columns.items()})
    frame["sent"] = True
    groups = frame.groupby(key.to_numpy(), sort=True)
    sums = groups.sum()
    header = (key.name if isinstance(key.name, str) else "input", "sent", *columns, *(extra or {}))
    rows: list[tuple[Cell, ...]] = []
    for group, row in sums.iterrows():
        cells: list[Cell] = [str(group), int(row["sent"]), *(int(row[name]) for name in columns)]
        for series in (extra or {}).values():
            value = series.get(group)
            cells.append(None if value is None or pd.isna(value) else float(value))
        rows.append(tuple(cells))
    return OutcomeTable(title, header, tuple(rows))
