"""Selecting requests: by phase (or the whole run), by fault window, and which of them were *answered*.

*Answered* means a 2xx: the service produced a prediction, so the response carries a tier. *Available* (a wider
notion that also accepts 4xx) lives in :mod:`~mlchaos.experiments.verifiers.steady_state`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from mlchaos.experiments.verifiers.base import FaultWindow, Phase, Recording, Verdict
from mlchaos.experiments.verifiers.steady_state import answered

__all__ = ["answered"]  # defined beside `available` (a lower module); verifiers import it from here

PhaseOrRun = Literal["run", "baseline", "fault", "recovery", "after"]

NO_PHASE = ""
"""The phase label of requests that started outside every phase window (e.g. before the baseline)."""


def requests_in(recording: Recording, phase: PhaseOrRun) -> pd.DataFrame:
    """Requests that started in ``phase`` (``run`` = all of them); empty if the run never reached the phase."""
    if phase == "run":
        return recording.requests
    window = recording.phase(Phase(phase))
    if window is None:
        return recording.requests.iloc[0:0]
    return recording.requests_between(window.start, window.end)


def fault_not_applied(verifier: str, name: str, target: str, unit: str, fault_id: str) -> Verdict:
    """The failed verdict of a verifier whose fault the journal never shows applied (nothing to measure)."""
    return Verdict.unmeasured(
        verifier=verifier,
        name=name,
        target=target,
        unit=unit,
        explanation=f"fault '{fault_id}' was never applied",
    )


def fault_end(recording: Recording, fault: FaultWindow) -> float:
    """When the fault stopped acting: its revert, or the end of the run if it was never reverted."""
    return fault.reverted_at if fault.reverted_at is not None else recording.ended_at


def phase_labels(recording: Recording, requests: pd.DataFrame) -> pd.Series:
    """The phase each request started in (:data:`NO_PHASE` outside all of them), aligned with ``requests``."""
    starts = requests["start"].to_numpy()
    labels = np.full(len(starts), NO_PHASE, dtype=object)
    for window in recording.phases:
        labels[(starts >= window.start) & (starts < window.end)] = window.phase.value
    return pd.Series(labels, index=requests.index, dtype=object)
