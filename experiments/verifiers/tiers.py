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

Loc = tuple[str | int, ...]
"""A field path inside a model, as the loader locates problems (``("tiers", 1)``, ``("min_tier_share", "gold")``)."""


def labels(requests: pd.DataFrame) -> pd.Series:
    """The tier of each request, :data:`NO_TIER` where the response named none."""
    tier = requests["tier"]
    if isinstance(tier.dtype, pd.CategoricalDtype):  # as a recording is read: one byte a row, not an object
        known = tier if NO_TIER in tier.cat.categories else tier.cat.add_categories([NO_TIER])
        return known.fillna(NO_TIER).cat.remove_unused_categories()  # counts name only the tiers seen
    return tier.astype(object).where(tier.notna(), NO_TIER)


def on_ladder(requests: pd.DataFrame, ladder: Sequence[str]) -> pd.Series:
    """Which requests name a tier of ``ladder``."""
    return requests["tier"].isin(list(ladder))


def from_tiers(requests: pd.DataFrame, tiers: Iterable[str], ladder: Sequence[str]) -> pd.Series:
    """Which requests name one of ``tiers`` that is on ``ladder``: a name the ladder lacks is unknown, even
    where a verifier asked for it (a recording of another target)."""
    return requests["tier"].isin([tier for tier in tiers if tier in ladder])


def ranks(requests: pd.DataFrame, ladder: Sequence[str]) -> np.ndarray:
    """Each request's position on the ladder, 0 = best; ``len(ladder)`` (below the worst) for an unknown tier:
    nothing says a better tier answered."""
    position = {tier: rank for rank, tier in enumerate(ladder)}
    # float first: a categorical column maps to a categorical, which takes no new value
    ranked: np.ndarray = (
        requests["tier"].map(position).astype("float64").fillna(len(ladder)).to_numpy(dtype=np.int64)
    )
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
