"""The drift monitor: do recent requests still look like the training data? (*drift*, docs/glossary.md)

Per request feature (``amount``, ``hour``, ``merchant_risk``, ``is_foreign``) the last ``window`` values of
valid requests are compared with the training data by the Kolmogorov-Smirnov distance ``D`` (the largest gap
between the two empirical CDFs). The feature's score is ``D * sqrt(n)`` for a window of ``n`` values: without
drift that follows the Kolmogorov distribution whatever ``n`` is (P(> 1.36) = 5 %, P(> 2.5) ~ 1e-5), so one
fixed threshold means the same false-alarm rate for a half-full window as for a full one, while a real shift
grows the score with every shifted request. KS rather than PSI: no bins to choose, and PSI's noise floor
depends on the window size, so its usual 0.1 / 0.25 thresholds either miss a 30 % shift or alarm on clean
traffic in a window of a few hundred requests. (Discrete features make the test conservative, never noisier.)

The alarm is on while any feature's score is above ``threshold``; each onset is counted, so a scraper that
polls less often than the alarm lasts still sees that it happened. Scores are recomputed at most every
``interval_s`` (on a request or a scrape), each in O(window x log(training rows)) with numpy.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from mlchaos.staging.data import Transaction
from mlchaos.staging.options import DriftOptions

DRIFT_FEATURES: Final = ("amount", "hour", "merchant_risk", "is_foreign")
"""The request fields watched: every field a model reads (``entity_id`` is an identifier, not a feature)."""

Clock = Callable[[], float]


@dataclass(frozen=True)
class DriftState:
    """What the monitor shows: a score per feature, whether the alarm is on, and how often it came on."""

    scores: dict[str, float]
    alarm: bool
    onsets: int


def _value(request: Mapping[str, Any], feature: str) -> float | None:
    value = request.get(feature)
    return None if value is None else float(value)


def ks_distance(window: npt.NDArray[np.float64], reference: npt.NDArray[np.float64]) -> float:
    """The two-sample Kolmogorov-Smirnov distance; ``reference`` must be sorted.

    Both empirical CDFs are step functions, so the largest gap is at one of the window's values, just at it
    or just before it; ties (discrete features) are handled by searching both sides.
    """
    points = np.sort(window)
    n, m = len(points), len(reference)
    at = np.abs(
        np.searchsorted(points, points, "right") / n - np.searchsorted(reference, points, "right") / m
    )
    before = np.abs(
        np.searchsorted(points, points, "left") / n - np.searchsorted(reference, points, "left") / m
    )
    return float(max(at.max(), before.max()))


class DriftMonitor:
    def __init__(
        self,
        training: list[Transaction],
        options: DriftOptions | None = None,
        *,
        clock: Clock | None = None,
        on_update: Callable[[DriftState, bool], None] | None = None,
    ) -> None:
        """``on_update(state, onset)`` is called after every recomputation (``onset``: the alarm just came on)."""
        self.options = options = options or DriftOptions()
        self._clock = clock or time.monotonic
        self._on_update = on_update
        self._reference = {
            feature: np.sort(
                np.array([v for t in training if (v := _value(t.request, feature)) is not None], dtype=float)
            )
            for feature in DRIFT_FEATURES
        }
        self._windows: dict[str, deque[float]] = {f: deque(maxlen=options.window) for f in DRIFT_FEATURES}
        self._state = DriftState(dict.fromkeys(DRIFT_FEATURES, 0.0), alarm=False, onsets=0)
        self._computed_at = -math.inf
        self._dirty = False

    def observe(self, request: Mapping[str, Any]) -> None:
        """Count one valid request (absent optional fields count for nothing)."""
        for feature, window in self._windows.items():
            value = _value(request, feature)
            if value is not None:
                window.append(value)
        self._dirty = True
        self.refresh()

    def refresh(self) -> DriftState:
        """The current state, recomputed first if there is news and ``interval_s`` has passed."""
        now = self._clock()
        if self._dirty and now - self._computed_at >= self.options.interval_s:
            self._computed_at, self._dirty = now, False
            self._recompute()
        return self._state

    def _recompute(self) -> None:
        scores = {feature: self._score(feature) for feature in DRIFT_FEATURES}
        alarm = any(score > self.options.threshold for score in scores.values())
        onset = alarm and not self._state.alarm
        self._state = DriftState(scores, alarm, self._state.onsets + onset)
        if self._on_update is not None:
            self._on_update(self._state, onset)

    def _score(self, feature: str) -> float:
        window = self._windows[feature]
        if len(window) < self.options.min_samples:
            return 0.0
        distance = ks_distance(np.fromiter(window, dtype=float, count=len(window)), self._reference[feature])
        return round(distance * math.sqrt(len(window)), 4)
