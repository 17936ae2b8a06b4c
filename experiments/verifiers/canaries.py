"""Canary requests: the ones whose true label is known, which is what makes model quality measurable under faults.

A canary *counts* when it was answered (2xx: it carries a prediction and a tier). It is *correct* when its
prediction equals its label exactly (as strings; a missing prediction is wrong). ``quality`` and ``calibration``
share the selection (phase, tiers) and the per-phase/per-tier breakdown here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import pandas as pd
from pydantic import Field

from mlchaos.experiments.service_declaration import TierName
from mlchaos.experiments.verifiers.base import Recording, VerifierSpec
from mlchaos.experiments.verifiers.phases import NO_PHASE, PhaseOrRun, answered, phase_labels
from mlchaos.experiments.verifiers.tiers import labels


class CanarySpec(VerifierSpec):
    """Fields of the verifiers computed on canaries."""

    phase: PhaseOrRun = "run"
    tiers: tuple[TierName, ...] = Field((), description="Only canaries answered by these tiers; empty = all.")
    min_canaries: int = Field(20, ge=1, description="Fewer answered canaries than this is too few to judge.")

    tier_fields: ClassVar[tuple[str, ...]] = ("tiers",)

    def scope(self) -> str:
        return self.phase + (f", {'/'.join(self.tiers)}" if self.tiers else "")


def canaries(recording: Recording) -> pd.DataFrame:
    """Answered canaries with their ``phase``, ``tier_label`` and whether they were ``correct``."""
    requests = recording.requests
    rows = requests[requests["label"].notna() & answered(requests)]
    prediction, label = rows["prediction"].astype(object), rows["label"].astype(object)
    return rows.assign(
        phase=phase_labels(recording, rows),
        tier_label=labels(rows),
        correct=(prediction.notna() & (prediction == label)).astype(bool),
    )


def select(frame: pd.DataFrame, spec: CanarySpec) -> pd.DataFrame:
    if spec.phase != "run":
        frame = frame[frame["phase"] == spec.phase]
    if spec.tiers:
        frame = frame[frame["tier_label"].isin(spec.tiers)]
    return frame


def breakdown(
    frame: pd.DataFrame, statistic: Callable[[pd.DataFrame], float], key: str
) -> dict[str, float | str | None]:
    """``statistic`` and the canary count per phase, per tier and per both: ``key.fault``, ``n.fault.primary``…"""
    details: dict[str, float | str | None] = {}
    groupings: list[list[str]] = [["phase"], ["tier_label"], ["phase", "tier_label"]]
    for columns in groupings:
        for keys, group in frame.groupby(columns, sort=True):
            if "phase" in columns and keys[0] == NO_PHASE:
                continue
            suffix = ".".join(str(key) for key in keys)
            details[f"{key}.{suffix}"] = statistic(group)
            details[f"n.{suffix}"] = float(len(group))
    return details


def worst_tier(
    frame: pd.DataFrame, statistic: Callable[[pd.DataFrame], float], *, highest: bool = False
) -> str:
    """The tier whose canaries score lowest on ``statistic`` (highest with ``highest``), for advice."""
    scores = {str(tier): statistic(group) for tier, group in frame.groupby("tier_label", sort=True)}
    pick = max if highest else min
    return pick(scores, key=lambda tier: scores[tier], default="—")
