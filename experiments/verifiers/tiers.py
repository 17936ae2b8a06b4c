"""The target's tier ladder as the verifiers read it, and the answers whose tier is not on it.

A target declares its tiers, best first (``tiers:`` in its file; the reference stack's ``primary, fallback,
rules, cache, static`` for an embedded one): the first is the service at its best, every later one a degraded
answer. Verifiers never assume tier names; they rank, select and compare by the ladder of the recording.

A 2xx whose tier is missing or not on the ladder is *unknown*: a misread answer field, or a service labelling
its answers in a way its target file does not say. Such answers are counted and named in every verdict about
tiers, and they never help one pass: they rank below the worst tier, are never from an allowed tier, never the
best one, and an upper bound on a tier's share counts them as possibly from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel

NO_TIER = "none"
"""The label of an answer that named no tier."""
MAX_NAMED = 5
"""Unknown tier names listed in a verdict, most frequent first: a service putting ids in its tier field would
otherwise make the explanation as long as the run."""

CHUNK_ROWS = 1 << 20
"""Requests :func:`label_counts` counts at a time."""

Loc = tuple[str | int, ...]
"""A field path inside a model, as the loader locates problems (``("tiers", 1)``, ``("min_tier_share", "gold")``)."""


def labels(requests: pd.DataFrame) -> pd.Series:
    """The tier of each request, :data:`NO_TIER` where the response named none."""
    tier = requests["tier"]
    if isinstance(tier.dtype, pd.CategoricalDtype):  # as a recording is read: one byte a row, not an object
        return _categorical_labels(tier)
    return tier.astype(object).where(tier.notna(), NO_TIER)


def _categorical_labels(tier: pd.Series) -> pd.Series:
    """:func:`labels` of a categorical column, by its codes: what ``add_categories([NO_TIER]).fillna(NO_TIER)
    .remove_unused_categories()`` gives (the tiers seen, in the column's order, then :data:`NO_TIER` if a request
    named none), without the ~30 bytes a row of temporaries pandas takes for it."""
    codes = tier.cat.codes.to_numpy()
    categories = list(tier.cat.categories)
    if NO_TIER not in categories:
        categories.append(NO_TIER)
    missing = categories.index(NO_TIER)  # where a request that named no tier goes (code -1)
    present = set(np.unique(codes).tolist())  # a sorted copy of one-byte codes: the cheap way to find them
    seen = [code for code in range(len(categories)) if code in present or (code == missing and -1 in present)]
    small = np.min_scalar_type(-len(categories))  # the codes' own width (int8 for up to 128 names)
    renumber = np.full(len(categories) + 1, -1, dtype=small)  # the last entry is for code -1
    renumber[seen] = np.arange(len(seen))
    renumber[-1] = renumber[missing]
    renumbered: np.ndarray[tuple[int], np.dtype[np.signedinteger]] = renumber[codes]
    names = pd.Index([str(categories[code]) for code in seen])  # tier names are strings
    kept = pd.Categorical.from_codes(renumbered, names, ordered=bool(tier.cat.ordered))
    return pd.Series(kept, index=tier.index, name=tier.name)


def label_counts(requests: pd.DataFrame, *, normalize: bool = False) -> pd.Series:
    """``labels(requests).astype(object).value_counts(normalize=normalize)``, to the same order (most first, ties
    in the order the labels first occur), counted on a categorical's codes a chunk at a time: a string pointer a
    request would be 80 MB at 10 M requests."""
    tiers = labels(requests)
    if not isinstance(tiers.dtype, pd.CategoricalDtype):
        plain = tiers.astype(object)
        counted_plain: pd.Series = plain.value_counts(normalize=True) if normalize else plain.value_counts()
        return counted_plain
    codes = tiers.cat.codes.to_numpy()
    counts: dict[int, int] = {}
    firsts: dict[int, int] = {}
    for begin in range(0, len(codes), CHUNK_ROWS):
        found, first, count = np.unique(
            codes[begin : begin + CHUNK_ROWS], return_index=True, return_counts=True
        )
        for code, at, n in zip(found.tolist(), first.tolist(), count.tolist(), strict=True):
            counts[code] = counts.get(code, 0) + n
            firsts.setdefault(code, begin + at)
    order = sorted(counts, key=firsts.__getitem__)  # as pandas's hash table gives them: by first occurrence
    names = pd.Index([tiers.cat.categories[code] for code in order], dtype=object, name=tiers.name)
    counted = pd.Series([counts[code] for code in order], index=names, name="count", dtype=np.int64)
    counted = counted.sort_values(ascending=False, kind="stable")
    return (counted / counted.sum()).rename("proportion") if normalize else counted


def _among(column: pd.Series, names: Sequence[str]) -> pd.Series:
    """``column.isin(names)``; for a categorical column by its codes, which takes a bit a row, not ~12 bytes."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return column.isin(list(names))
    codes = column.cat.codes.to_numpy()
    inside = np.zeros(len(codes), dtype=bool)
    for code, name in enumerate(column.cat.categories):
        if name in names:
            inside |= codes == code
    return pd.Series(inside, index=column.index, name=column.name)


def on_ladder(requests: pd.DataFrame, ladder: Sequence[str]) -> pd.Series:
    """Which requests name a tier of ``ladder``."""
    return _among(requests["tier"], ladder)


def from_tiers(requests: pd.DataFrame, tiers: Iterable[str], ladder: Sequence[str]) -> pd.Series:
    """Which requests name one of ``tiers`` that is on ``ladder``: a name the ladder lacks is unknown, even
    where a verifier asked for it (a recording of another target)."""
    return _among(requests["tier"], [tier for tier in tiers if tier in ladder])


def ranks(requests: pd.DataFrame, ladder: Sequence[str]) -> np.ndarray:
    """Each request's position on the ladder, 0 = best; ``len(ladder)`` (below the worst) for an unknown tier:
    nothing says a better tier answered."""
    position = {tier: rank for rank, tier in enumerate(ladder)}
    tier = requests["tier"]
    if isinstance(tier.dtype, pd.CategoricalDtype):  # by its codes: the last entry ranks a missing tier (-1)
        by_code = [position.get(name, len(ladder)) for name in tier.cat.categories] + [len(ladder)]
        ranked: np.ndarray = np.array(by_code, dtype=np.int64)[tier.cat.codes.to_numpy()]
        return ranked
    # float first: an object column maps None to NaN, which only a float column takes
    ranked = tier.map(position).astype("float64").fillna(len(ladder)).to_numpy(dtype=np.int64)
    return ranked


@dataclass(frozen=True)
class UnknownTiers:
    """Answers whose tier is not on the ladder, by the name they gave (:data:`NO_TIER` for none)."""

    counts: tuple[tuple[str, int], ...]
    """``(name, answers)``, most answers first."""
    ladder: tuple[str, ...]

    @property
    def total(self) -> int:
        return sum(count for _, count in self.counts)

    def named(self) -> str:
        """``"gold-ish (12), none (3)"``, the :data:`MAX_NAMED` most frequent, then how many more names."""
        shown = ", ".join(f"{name} ({count})" for name, count in self.counts[:MAX_NAMED])
        more = len(self.counts) - MAX_NAMED
        return shown + (f" and {more} more name{'s' * (more > 1)}" if more > 0 else "")

    def sentence(self) -> str:
        """What the explanation says of them; empty when there are none."""
        if not self.counts:
            return ""
        return (
            f"{self.total} answer{'s' * (self.total > 1)} from a tier not on the target's ladder "
            f"({', '.join(self.ladder)}): {self.named()} — counted against the verdict"
        )

    def details(self) -> dict[str, float | str | None]:
        """For a verdict's details, only when there are any."""
        if not self.counts:
            return {}
        return {"unknown_tiers": self.named(), "unknown_tier_answers": float(self.total)}


def unknown_tiers(answers: pd.DataFrame, ladder: Sequence[str]) -> UnknownTiers:
    """The ``answers`` (callers pass 2xx ones) whose tier is missing or not on ``ladder``."""
    off = labels(answers[~on_ladder(answers, ladder)])
    counts = off.value_counts(sort=False)
    ordered = sorted(
        ((str(name), int(n)) for name, n in counts.items()), key=lambda item: (-item[1], item[0])
    )
    return UnknownTiers(tuple(ordered), tuple(ladder))


def with_unknown(explanation: str, unknown: UnknownTiers) -> str:
    """``explanation``, followed by the sentence about unknown tiers if there are any."""
    return explanation + (f"; {unknown.sentence()}" if unknown.counts else "")


def unknown_references(
    model: BaseModel, fields: Iterable[str], ladder: Sequence[str]
) -> list[tuple[Loc, str]]:
    """Where ``model``'s ``fields`` (lists of tier names, or mappings keyed by them) name a tier ``ladder`` lacks,
    and what to say there; the loader places each at its line."""
    problems: list[tuple[Loc, str]] = []
    for name in fields:
        value = getattr(model, name)
        entries: Iterable[tuple[str | int, str]]
        if value is None:
            continue
        entries = ((key, key) for key in value) if isinstance(value, dict) else enumerate(value)
        problems += [
            ((name, where), f"unknown tier '{tier}'; the target's tiers are: {', '.join(ladder)}")
            for where, tier in entries
            if tier not in ladder
        ]
    return problems
