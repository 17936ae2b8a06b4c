"""The steady-state hypothesis, and the sliding-window test MTTR is built on.

The hypothesis is what must hold before any fault and again after recovery, e.g. "availability ≥ 99 %, the best
tier serves ≥ 95 %, p99 ≤ 250 ms" (tiers named as on the target's ladder). A request is *available* when the
service answered it (a 2xx the load could read: JSON with the declared tier field) or refused it with a 4xx.
Timeouts and refused connections (status 0), 5xx, redirects and unreadable 2xx are not available. Answers from a
tier not on the ladder count for no tier, and are named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from mlchaos.experiments.durations import PositiveSeconds
from mlchaos.experiments.service_declaration import TierName
from mlchaos.experiments.verifiers.frames import selected
from mlchaos.experiments.verifiers.tiers import (
    Loc,
    UnknownTiers,
    from_tiers,
    unknown_references,
    unknown_tiers,
)

MAX_GAP_S = 1.0
"""A window with a silence longer than this between requests is not evidence that anything holds."""
CHUNK_ROWS = 1 << 20
"""Candidate starts :func:`first_sustained_hold` checks at a time (a bound on its per-request arrays)."""


class SteadyState(BaseModel):
    """The hypothesis; every bound is optional except availability."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: PositiveSeconds = Field(
        10.0, description="Length of the baseline and the after-recovery windows."
    )
    min_availability: float = Field(0.99, ge=0, le=1)
    min_tier_share: dict[TierName, float] = Field(
        default_factory=dict,
        description="Tier (of the target's ladder) -> least share of responses it must serve, e.g. "
        "{primary: 0.95}.",
    )
    max_p99_ms: float | None = Field(None, gt=0)

    def ladder_problems(self, ladder: tuple[str, ...]) -> list[tuple[Loc, str]]:
        """Tiers the hypothesis names that the target's ladder lacks (the loader places them at their lines)."""
        return unknown_references(self, ("min_tier_share",), ladder)

    def describe(self) -> str:
        parts = [f"availability ≥ {self.min_availability:.2%}"]
        parts += [f"{tier} share ≥ {share:.0%}" for tier, share in self.min_tier_share.items()]
        if self.max_p99_ms is not None:
            parts.append(f"p99 ≤ {self.max_p99_ms:g} ms")
        return ", ".join(parts)


def answered(requests: pd.DataFrame) -> pd.Series:
    """2xx responses the load could read as an answer: the ones that carry a prediction and the tier that made it.

    A 2xx with an ``error`` is no answer — its body was not JSON, lacked the tier field the target declares, or
    never arrived whole — so a service answering 200 with garbage is not counted as serving."""
    status = requests["status"]
    readable = requests["error"].isna() if "error" in requests.columns else True  # hand-made frames lack it
    return (status >= 200) & (status < 300) & readable


def unreadable_2xx(requests: pd.DataFrame) -> str:
    """Why 2xx answers were not counted as answered, for a verdict's text: ``"12 2xx answers unreadable: 2xx but
    body is not JSON (10); 2xx without the tier field 'tier' (2)"`` (the three commonest reasons); ``""`` if none."""
    if "error" not in requests.columns:
        return ""
    status = requests["status"]
    errors = selected(requests, (status >= 200) & (status < 300), ["error"])["error"].dropna()
    if errors.empty:
        return ""
    counts = errors.value_counts()
    counts = counts[counts > 0]  # a categorical column counts every category, seen here or not
    reasons = "; ".join(f"{reason} ({count})" for reason, count in counts.head(3).items())
    more = f"; {len(counts) - 3} other reasons" if len(counts) > 3 else ""
    return f"{len(errors)} 2xx answers unreadable: {reasons}{more}"


def available(requests: pd.DataFrame) -> pd.Series:
    """Answered (a readable 2xx), or refused with a 4xx: the service was there and said something sensible."""
    status = requests["status"]
    return answered(requests) | ((status >= 400) & (status < 500))


@dataclass(frozen=True)
class Evaluation:
    holds: bool
    requests: int
    availability: float | None
    tier_shares: dict[str, float]
    p99_ms: float | None
    failed: tuple[str, ...]
    unknown: UnknownTiers
    """Answers (2xx) from a tier not on the target's ladder: they count for no tier of the hypothesis."""
    unreadable: str = ""
    """Why 2xx answers did not count as answers (:func:`unreadable_2xx`); empty if all could be read."""

    def summary(self) -> str:
        if self.requests == 0:
            return "no requests"
        text = f"{self.requests} requests, availability {self.availability:.2%}"
        if self.tier_shares:
            text += ", " + ", ".join(f"{t} {s:.1%}" for t, s in self.tier_shares.items())
        if self.p99_ms is not None:
            text += f", p99 {self.p99_ms:.0f} ms"
        if self.unknown.counts:
            text += f"; {self.unknown.sentence()}"
        if self.unreadable:
            text += f"; {self.unreadable}"
        return text


def evaluate(hypothesis: SteadyState, requests: pd.DataFrame, *, tiers: Sequence[str]) -> Evaluation:
    """Whether the hypothesis holds over ``requests`` (all of them, as one window), on a target whose tier
    ladder is ``tiers``."""
    if requests.empty:
        return Evaluation(
            False, 0, None, {}, None, ("no requests in the window",), UnknownTiers((), tuple(tiers))
        )
    answers = selected(requests, answered(requests), ["tier"])  # the column it reads, not a copy of them all
    unknown = unknown_tiers(answers, tiers)
    availability = float(available(requests).mean())
    shares = {t: float(from_tiers(requests, (t,), tiers).mean()) for t in hypothesis.min_tier_share}
    p99 = float(np.percentile(requests["latency_ms"], 99))
    failed = []
    if availability < hypothesis.min_availability:
        failed.append(f"availability {availability:.2%} < {hypothesis.min_availability:.2%}")
    for tier, least in hypothesis.min_tier_share.items():
        if shares[tier] < least:
            failed.append(f"{tier} share {shares[tier]:.1%} < {least:.0%}")
    if hypothesis.max_p99_ms is not None and p99 > hypothesis.max_p99_ms:
        failed.append(f"p99 {p99:.0f} ms > {hypothesis.max_p99_ms:g} ms")
    return Evaluation(
        not failed, len(requests), availability, shares, p99, tuple(failed), unknown, unreadable_2xx(requests)
    )


def first_sustained_hold(
    hypothesis: SteadyState, requests: pd.DataFrame, since: float, until: float, sustain_s: float
) -> float | None:
    """Start of the first window ``[s, s + sustain_s)`` after ``since`` in which the hypothesis holds, or ``None``.

    Candidate starts are the times of good answers (available, and from a required tier if the hypothesis names
    tiers), so the answer is as precise as the traffic is dense. A
    window counts only if it ends before ``until`` and has no silence longer than :data:`MAX_GAP_S` (no requests
    is no evidence). Cheap checks (availability, tier shares) run vectorised over all candidates at once; the
    percentile only for the candidates that pass them (and a count of slow requests that p99 within the bound
    requires), in time order, stopping at the first that holds.

    Candidates are taken :data:`CHUNK_ROWS` at a time, in time order: the per-request arrays then cover one chunk
    and the windows it opens, not the whole recovery (10 M requests would need ~350 MB of them at once), and an
    early recovery is found without looking at the rest.
    """
    if requests["start"].is_monotonic_increasing:  # sorted, as recorded: a slice, which copies nothing
        first, end_at = requests["start"].searchsorted([since, until])
        window = requests.iloc[first:end_at]
    else:
        window = requests[(requests["start"] >= since) & (requests["start"] < until)].sort_values("start")
    starts = window["start"].to_numpy()
    for chunk in range(0, len(starts), CHUNK_ROWS):
        found = _first_hold_in(
            hypothesis, window, chunk, min(chunk + CHUNK_ROWS, len(starts)), until, sustain_s
        )
        if found is not None:
            return found
    return None


def _first_hold_in(
    hypothesis: SteadyState, window: pd.DataFrame, begin: int, stop: int, until: float, sustain_s: float
) -> float | None:
    """:func:`first_sustained_hold` for the candidates ``window[begin:stop]`` (rows sorted by start). Indices are
    the window's; the cumulative counts cover only the rows these candidates' windows reach (``reach``)."""
    all_starts = window["start"].to_numpy()
    starts = all_starts[begin:stop]
    ends = np.searchsorted(all_starts, starts + sustain_s, side="left")  # each window's end, in window rows
    reach = max(int(ends[-1]), stop)
    part = window.iloc[begin:reach]  # a slice: what the cumulative counts below run over
    local = ends - begin
    index = np.arange(len(starts))
    counts = ends - (begin + index)
    candidate = (starts + sustain_s <= until) & (counts > 0)

    def share_ok(flags: np.ndarray, least: float) -> np.ndarray:
        cumulative = np.concatenate(([0], np.cumsum(flags)))
        hits = cumulative[local] - cumulative[index]
        enough: np.ndarray = hits >= least * counts - 1e-9
        return enough

    good = available(part).to_numpy()
    candidate &= share_ok(good, hypothesis.min_availability)
    required_tiers = (
        np.zeros(len(starts), dtype=bool) if hypothesis.min_tier_share else np.ones(len(starts), bool)
    )
    for tier, least in hypothesis.min_tier_share.items():
        in_tier = (part["tier"] == tier).to_numpy()
        candidate &= share_ok(in_tier, least)
        required_tiers |= in_tier[: len(starts)]
    # The window must open on a good answer: otherwise the tolerance the shares allow (5 % of a 3 s window)
    # would let recovery "start" up to 150 ms before the first recovered answer.
    candidate &= good[: len(starts)] & required_tiers
    # No silence longer than MAX_GAP_S between the window's requests, nor between its last request and its end.
    # (A window without requests is no candidate already: its last row is taken as its first, to stay in range.)
    last = np.maximum(local - 1, index)
    part_starts = all_starts[begin:reach]
    breaks = np.concatenate(([0], np.cumsum(np.diff(part_starts) > MAX_GAP_S)))
    candidate &= breaks[last] == breaks[index]
    candidate &= starts + sustain_s - part_starts[last] <= MAX_GAP_S
    latencies = window["latency_ms"].to_numpy()
    if hypothesis.max_p99_ms is not None:
        # np.percentile interpolates between the order statistics at floor/ceil of 0.99·(n−1): p99 ≤ bound needs the
        # lower one within it, i.e. at most n − 1 − floor(0.99·(n−1)) slower requests. Checking that count for all
        # windows at once spares the exact percentile for nearly every failing one (a long slow stretch would
        # otherwise cost one percentile per request). The 1e-9 keeps the test necessary despite rounding.
        slow = np.concatenate(([0], np.cumsum(latencies[begin:reach] > hypothesis.max_p99_ms)))
        allowed = counts - 1 - np.floor(0.99 * (counts - 1) - 1e-9)
        candidate &= slow[local] - slow[index] <= allowed
    for i in np.flatnonzero(candidate):
        if (
            hypothesis.max_p99_ms is None
            or np.percentile(latencies[begin + i : ends[i]], 99) <= hypothesis.max_p99_ms
        ):
            return float(starts[i])
    return None
