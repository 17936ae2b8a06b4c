"""The drift monitor: do the last ``window`` valid requests still look like the training data?

Numeric features (``value_eur``, ``basket_items``): two-sample Kolmogorov-Smirnov against the training values.
Categorical ones (``channel``, ``country``, ``night``): Pearson's chi-square of the window's counts against the
training shares. Each feature's score is ``-log10(p-value)``, so one threshold means the same false-alarm rate
for every test and every window size: 5 (p < 1e-5) keeps clean traffic quiet over hours of checks, while
"value x5 in half of the requests" passes it after ~150 shifted requests. scipy is not installed; both
p-values have short closed forms (the asymptotic Kolmogorov series; the chi-square survival function for an
integer number of degrees of freedom). Discrete numeric features make KS conservative, never noisier.

The alarm is on while any score is past the threshold; each onset is counted. Scores are recomputed at most
every ``interval_s``, on a request or a scrape.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from riskd.data import CHANNELS, COUNTRIES

NUMERIC: Final = ("value_eur", "basket_items")
CATEGORICAL: Final[dict[str, tuple[object, ...]]] = {
    "channel": CHANNELS,
    "country": COUNTRIES,
    "night": (False, True),
}
FEATURES: Final = (*NUMERIC, *CATEGORICAL)
_MAX_SCORE: Final = 300.0  # -log10 of the smallest p a float can tell apart from 0


def ks_pvalue(window: npt.NDArray[np.float64], reference: npt.NDArray[np.float64]) -> float:
    """Asymptotic two-sample KS p-value; ``reference`` must be sorted. Ties handled by checking both sides."""
    points = np.sort(window)
    n, m = len(points), len(reference)
    gaps = [
        np.abs(np.searchsorted(points, points, side) / n - np.searchsorted(reference, points, side) / m)
        for side in ("left", "right")
    ]
    t = max(float(g.max()) for g in gaps) * math.sqrt(n * m / (n + m))
    if t < 0.2:
        return 1.0
    series = 2.0 * sum((-1) ** (j - 1) * math.exp(-2.0 * j * j * t * t) for j in range(1, 101))
    return float(min(1.0, max(series, 0.0)))


def chi2_pvalue(statistic: float, dof: int) -> float:
    """P(X > statistic) for X ~ chi-square(dof): Q(dof/2, statistic/2) in closed form."""
    half = statistic / 2.0
    if dof % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, dof // 2):
            term *= half / i
            total += term
        return min(1.0, math.exp(-half) * total)
    total = math.erfc(math.sqrt(half))
    term = math.sqrt(half) / math.gamma(1.5)
    for i in range(1, (dof + 1) // 2):
        total += math.exp(-half) * term
        term *= half / (i + 0.5)
    return min(1.0, total)


def _score(p: float) -> float:
    return _MAX_SCORE if p <= 0.0 else min(_MAX_SCORE, -math.log10(p))


@dataclass(frozen=True)
class DriftState:
    scores: dict[str, float]
    alarm: bool
    onsets: int


class DriftMonitor:
    def __init__(
        self,
        training: Sequence[dict[str, Any]],
        *,
        window: int = 300,
        min_samples: int = 100,
        threshold: float = 5.0,
        interval_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self._min_samples = min_samples
        self._interval_s = interval_s
        self._clock = clock
        self._reference = {f: np.sort(np.array([float(b[f]) for b in training])) for f in NUMERIC}
        self._shares = {
            f: np.array([sum(b[f] == level for b in training) / len(training) for level in levels])
            for f, levels in CATEGORICAL.items()
        }
        self._window: deque[dict[str, Any]] = deque(maxlen=window)
        self.state = DriftState(dict.fromkeys(FEATURES, 0.0), alarm=False, onsets=0)
        self._computed_at = -math.inf
        self._dirty = False

    def observe(self, body: dict[str, Any]) -> None:
        self._window.append({f: body[f] for f in FEATURES})
        self._dirty = True
        self.refresh()

    def refresh(self) -> DriftState:
        now = self._clock()
        if self._dirty and now - self._computed_at >= self._interval_s:
            self._computed_at, self._dirty = now, False
            scores = (
                self._scores() if len(self._window) >= self._min_samples else dict.fromkeys(FEATURES, 0.0)
            )
            alarm = any(score > self.threshold for score in scores.values())
            onset = alarm and not self.state.alarm
            self.state = DriftState(scores, alarm, self.state.onsets + onset)
        return self.state

    def _scores(self) -> dict[str, float]:
        scores = {}
        for f in NUMERIC:
            window = np.array([float(row[f]) for row in self._window])
            scores[f] = round(_score(ks_pvalue(window, self._reference[f])), 3)
        n = len(self._window)
        for f, levels in CATEGORICAL.items():
            observed = np.array(
                [sum(row[f] == level for row in self._window) for level in levels], dtype=float
            )
            expected = np.maximum(self._shares[f] * n, 1e-9)
            statistic = float(((observed - expected) ** 2 / expected).sum())
            scores[f] = round(_score(chi2_pvalue(statistic, len(levels) - 1)), 3)
        return scores
