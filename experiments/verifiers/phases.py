"""Selecting requests: by phase (or the whole run), by fault window, and which of them were *answered*.

*Answered* means a 2xx: the service produced a prediction, so the response carries a tier. *Available* (a wider
notion that also accepts 4xx) lives in :mod:`~mlchaos.experiments.verifiers.steady_state`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from mlchaos.experiments.verifiers import advice
from mlchaos.experiments.verifiers.base import BudgetBurn, FaultWindow, Judged, Phase, Recording, Verdict
from mlchaos.experiments.verifiers.steady_state import answered, available

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
        advice=advice.Advice("fault_not_applied", advice.FAULT_NOT_APPLIED.look.format(fault=fault_id)),
    )


def phase_judged(recording: Recording, phase: PhaseOrRun) -> Judged | None:
    """The window of ``phase`` (``run``: the baseline's start to the end); ``None`` if the run never reached it."""
    if phase == "run":
        return Judged(recording.started_at, recording.ended_at)
    window = recording.phase(Phase(phase))
    return None if window is None else Judged(window.start, window.end)


def fault_judged(recording: Recording, fault: FaultWindow) -> Judged:
    """The window of a fault: its injection to its revert (the run's end if never reverted)."""
    return Judged(fault.injected_at, fault_end(recording, fault))


def budget_burn(recording: Recording, judged: Judged | None) -> BudgetBurn | None:
    """The error budget the requests started in ``judged`` burned against the scenario's availability SLO (its
    steady state's ``min_availability``): bad / ((1 − slo) × requests). ``None`` without a window or requests."""
    if judged is None:
        return None
    requests = recording.requests_between(judged.start, judged.end)
    if requests.empty:
        return None
    slo = recording.steady_state.min_availability
    bad = int((~available(requests)).sum())
    allowed = (1 - slo) * len(requests)
    burned = bad / allowed if allowed > 0 else (0.0 if bad == 0 else None)
    return BudgetBurn(slo=slo, requests=len(requests), bad=bad, allowed=allowed, burned=burned)


def bad_mix(requests: pd.DataFrame) -> tuple[int, int, int]:
    """Of the requests not available: (no response — timeout, refused, reset; 5xx; 2xx the target's response
    mapping could not read)."""
    status = requests["status"]
    unreadable = (status >= 200) & (status < 300) & ~answered(requests)
    return int((status == 0).sum()), int((status >= 500).sum()), int(unreadable.sum())


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
