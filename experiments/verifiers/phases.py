"""Selecting the requests of a phase, or of the whole run."""

from __future__ import annotations

from typing import Literal

import pandas as pd

from mlchaos.experiments.verifiers.base import Phase, Recording

PhaseOrRun = Literal["run", "baseline", "fault", "recovery", "after"]


def requests_in(recording: Recording, phase: PhaseOrRun) -> pd.DataFrame:
    """Requests that started in ``phase`` (``run`` = all of them); empty if the run never reached the phase."""
    if phase == "run":
        return recording.requests
    window = recording.phase(Phase(phase))
    if window is None:
        return recording.requests.iloc[0:0]
    return recording.requests_between(window.start, window.end)
