"""The models of riskd's fallback chain, all trained at start from :mod:`riskd.data` (nothing downloaded).

gold    logistic regression on request + profile features; runs in the ``scorer`` process
silver  logistic regression on request features only; runs inside ``risk-api``
bronze  hand-written rules; decline (``None``) when no rule is sure enough
default constant allow, p_block 0.5

A decision is ``block`` iff ``p_block > 0.5`` and the confidence is always ``max(p_block, 1 - p_block)``, so a
consumer can recompute one from the other in every tier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_array

from riskd.data import BLOCK, CHANNELS, COUNTRIES, TRAIN_SEED, Profile, training_rows

Vector = npt.NDArray[np.float64]

GOLD_FEATURES: Final = (
    "log_ratio",
    "chargebacks_90d",
    "log_age",
    "log_value",
    "basket_items",
    "night",
    *(f"channel_{c}" for c in CHANNELS),
    *(f"country_{c}" for c in COUNTRIES),
)
"""The scorer's input vector, in this order (``POST /v1/infer {"features": [...]}``)."""
DEFAULT_P_BLOCK: Final = 0.5


def _one_hot(value: object, levels: tuple[str, ...]) -> list[float]:
    return [float(value == level) for level in levels]


def _request_part(body: dict[str, Any]) -> list[float]:
    # log1p, not log: value_eur 0 is valid input. A non-finite value (only ever here under nan_500) stays
    # non-finite, so that sklearn's input check rejects it.
    with np.errstate(invalid="ignore", divide="ignore"):
        log_value = float(np.log1p(float(body["value_eur"])))
    return [
        log_value,
        float(body["basket_items"]),
        float(bool(body["night"])),
        *_one_hot(body["channel"], CHANNELS),
        *_one_hot(body["country"], COUNTRIES),
    ]


def request_matrix(body: dict[str, Any]) -> Vector:
    """The request's features as the silver model and the OOD detector read them. Raises ValueError for
    NaN/Infinity (sklearn's own input check: the gateway relies on validation having removed them)."""
    return np.asarray(check_array(np.array([_request_part(body)], dtype=float)), dtype=float)


def gold_vector(body: dict[str, Any], profile: Profile) -> list[float]:
    log_value, basket, night, *categories = _request_part(body)
    return [
        log_value - math.log1p(profile.avg_ticket_eur),
        float(profile.chargebacks_90d),
        math.log1p(profile.account_age_days / 30.0),
        log_value,
        basket,
        night,
        *categories,
    ]


def _train(x: list[list[float]], y: list[int]) -> Pipeline:
    # Large C: the label is a deterministic rule, so there is no noise to regularise against and the
    # probabilities may be sharp.
    model = make_pipeline(StandardScaler(), LogisticRegression(C=50.0, max_iter=2000))
    model.fit(np.array(x, dtype=float), np.array(y))
    return model


def _labels(rows: list[tuple[dict[str, Any], Profile, str]]) -> list[int]:
    return [int(row[2] == BLOCK) for row in rows]


def train_gold(seed: int = TRAIN_SEED) -> Pipeline:
    rows = training_rows(seed)
    return _train([gold_vector(body, profile) for body, profile, _ in rows], _labels(rows))


def train_silver(seed: int = TRAIN_SEED) -> Pipeline:
    rows = training_rows(seed)
    return _train([_request_part(body) for body, _, _ in rows], _labels(rows))


def p_block(model: Pipeline, x: Vector) -> float:
    return float(model.predict_proba(x)[0, 1])


def bronze(body: dict[str, Any]) -> float | None:
    """Hand rules: p_block, or None when they have nothing to say (the chain then answers ``default``)."""
    value, night = float(body["value_eur"]), bool(body["night"])
    if night and value > 2000:
        return 0.85
    if value > 10_000:
        return 0.8
    if value <= 250 and not night and body["channel"] != "phone":
        return 0.3
    return None


@dataclass(frozen=True)
class OodDetector:
    """Out-of-distribution: log1p(value_eur) or basket_items beyond the training range by a margin.

    The margins are chosen so that nothing :func:`riskd.data.transactions` can generate is flagged (values
    0.5..20000, baskets well under twice the training maximum), while 0, 50000 or a basket of 100 are."""

    log_value_range: tuple[float, float]
    basket_max: float

    LOW_MARGIN: ClassVar[float] = 0.6
    HIGH_MARGIN: ClassVar[float] = 0.5

    @classmethod
    def fit(cls, seed: int = TRAIN_SEED) -> OodDetector:
        x = np.array([_request_part(body)[:2] for body, _, _ in training_rows(seed)])
        low, high = float(x[:, 0].min()), float(x[:, 0].max())
        return cls((low - cls.LOW_MARGIN, high + cls.HIGH_MARGIN), 2.0 * float(x[:, 1].max()))

    def is_ood(self, x: Vector) -> bool:
        """``x``: a :func:`request_matrix`."""
        log_value, basket = float(x[0, 0]), float(x[0, 1])
        low, high = self.log_value_range
        return not low <= log_value <= high or basket > self.basket_max


def confidence(p: float) -> float:
    return max(p, 1.0 - p)


def decision(p: float) -> str:
    return "block" if p > 0.5 else "allow"
