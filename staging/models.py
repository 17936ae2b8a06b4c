"""The reference stack's models: how the tiers that compute an answer turn features into a fraud score.

- primary: gradient-boosted trees on request + store features (served by ``primary.py``);
- fallback: logistic regression on request features only (runs inside the gateway);
- rules: a hand-written score on request fields, no learning at all;
- an out-of-distribution score, so every answer says how unusual its input was.

Training is deterministic (fixed seeds, no early-stopping split) and takes well under a second, so each
process trains what it needs at start instead of shipping or caching model files.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from mlchaos.staging.data import DEFAULT_WORLD_SEED, FRAUD, LEGIT, StoreFeatures, Transaction, training_data

# sklearn is imported where a model is trained: the gateway never loads the trees, the primary server never
# the linear model, and each saves import time (importing sklearn is most of a cold start).
if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

Matrix = npt.NDArray[np.float64]

DECISION_THRESHOLD: Final = 0.5
NIGHT_HOURS: Final = 6
"""Hours 0..5 count as night, for the features and the rules alike."""


class FeatureError(ValueError):
    """A request field the models cannot turn into a number. Validation keeps such requests away from the
    models; only the ``no_input_validation`` broken variant lets one through (and fails with a 500)."""


def _number(request: Mapping[str, Any], name: str) -> float:
    value = request[name]
    # bool is an int in Python, and float("12") would quietly accept a string: neither is a number here.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FeatureError(f"{name} must be a number, got {type(value).__name__} {value!r:.40}")
    if not math.isfinite(value):
        raise FeatureError(f"{name} must be finite, got {value!r}")
    return float(value)


def request_vector(request: Mapping[str, Any]) -> list[float]:
    """Request features as numbers; a missing optional field becomes NaN (imputed by the models).

    A field that is present must be a finite number (``is_foreign`` a bool): NaN means "absent" to the models,
    so a NaN *sent* by a client would otherwise be silently imputed. Raises :class:`FeatureError`.
    """
    hour = request.get("hour")
    risk = request.get("merchant_risk")
    foreign = request.get("is_foreign")
    if foreign is not None and not isinstance(foreign, bool):
        raise FeatureError(f"is_foreign must be a bool, got {type(foreign).__name__} {foreign!r:.40}")
    return [
        math.log1p(_number(request, "amount")),
        math.nan if hour is None else float(_number(request, "hour") < NIGHT_HOURS),
        math.nan if risk is None else _number(request, "merchant_risk"),
        math.nan if foreign is None else float(foreign),
    ]


def store_vector(request: Mapping[str, Any], store: StoreFeatures) -> list[float]:
    """Store features, plus the one interaction that matters most: this amount against the entity's usual."""
    usual = max(store.avg_amount_30d, 1.0)
    return [
        math.log1p(store.txn_count_7d),
        math.log(usual),
        math.log1p(store.account_age_days),
        store.chargeback_rate,
        math.log(max(float(request["amount"]), 0.01) / usual),
    ]


@functools.cache
def _threadpools() -> Any:
    from threadpoolctl import ThreadpoolController  # sklearn's own dependency

    return ThreadpoolController()  # scans the loaded libraries once; call after sklearn is imported


def _one_openmp_thread() -> AbstractContextManager[object]:
    """The trees on a single OpenMP thread: for one-row predictions and a 12k-row fit, threads cost more than
    they save, and on a busy machine OpenMP's spinning makes both several times slower."""
    limit: AbstractContextManager[object] = _threadpools().limit(limits=1, user_api="openmp")
    return limit


def _matrix(rows: list[list[float]]) -> Matrix:
    return np.asarray(rows, dtype=np.float64)


def _labels(data: list[Transaction]) -> npt.NDArray[np.int64]:
    return np.asarray([t.label == FRAUD for t in data], dtype=np.int64)


def label_of(score: float) -> str:
    return FRAUD if score >= DECISION_THRESHOLD else LEGIT


def confidence_of(score: float) -> float:
    """The probability the model gives its own answer (for a binary answer, never below 0.5)."""
    return max(score, 1.0 - score)


@dataclass(frozen=True)
class PrimaryModel:
    """Needs the entity's store features; the best tier."""

    estimator: HistGradientBoostingClassifier

    def score(self, request: Mapping[str, Any], store: StoreFeatures) -> float:
        row = request_vector(request) + store_vector(request, store)
        with _one_openmp_thread():
            return float(self.estimator.predict_proba(_matrix([row]))[0, 1])


@dataclass(frozen=True)
class FallbackModel:
    """Request features only: works while the feature store or the primary model server is down."""

    estimator: Pipeline

    def score(self, request: Mapping[str, Any]) -> float:
        return float(self.estimator.predict_proba(_matrix([request_vector(request)]))[0, 1])


PRIMARY_MONOTONE: Final = [0, 0, 1, 1, 0, 0, 0, 0, 0]
"""Per primary feature (request_vector + store_vector): +1 = the fraud score may only rise with it."""


def train_primary(seed: int = DEFAULT_WORLD_SEED, data: list[Transaction] | None = None) -> PrimaryModel:
    from sklearn.ensemble import HistGradientBoostingClassifier

    data = training_data(seed) if data is None else data
    x = _matrix([request_vector(t.request) + store_vector(t.request, t.store) for t in data])
    # early_stopping=False: the default holds out a random validation split, one more source of variation.
    # Monotone in merchant_risk and is_foreign: trees left alone learn the odd leaf where a riskier merchant
    # lowers the score — a metamorphic relation (docs/glossary.md) catches exactly that under load.
    model = HistGradientBoostingClassifier(
        max_iter=120,
        learning_rate=0.1,
        max_leaf_nodes=15,
        early_stopping=False,
        random_state=seed,
        monotonic_cst=PRIMARY_MONOTONE,
    )
    with _one_openmp_thread():
        return PrimaryModel(model.fit(x, _labels(data)))


def train_fallback(seed: int = DEFAULT_WORLD_SEED, data: list[Transaction] | None = None) -> FallbackModel:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = training_data(seed) if data is None else data
    x = _matrix([request_vector(t.request) for t in data])
    # Median imputation plus missing-indicators: an absent field is itself a (weak) signal.
    model = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True),
        StandardScaler(),
        LogisticRegression(max_iter=500),
    )
    return FallbackModel(model.fit(x, _labels(data)))


class RuleDeclinedError(Exception):
    """The rules cannot judge this request (a field they need is missing): let the next tier answer."""


def rules_score(request: Mapping[str, Any]) -> float:
    """Hand-written fraud score in 0..1 from request fields, as an analyst would write it without a model.

    The rules rest on ``merchant_risk``; without it they decline rather than guess.
    """
    risk = request.get("merchant_risk")
    if risk is None:
        raise RuleDeclinedError("rules need merchant_risk, which the request does not carry")
    score = 0.05 + 0.55 * float(risk)
    if request.get("is_foreign"):
        score += 0.15
    hour = request.get("hour")
    if hour is not None and hour < NIGHT_HOURS:
        score += 0.15
    if float(request["amount"]) > 800.0:
        score += 0.2
    return min(score, 0.99)


OOD_FEATURES: Final = (0, 2)
"""Columns of :func:`request_vector` the OOD score looks at: log amount and merchant_risk, the continuous ones.
The binary features cannot leave their range, and as Gaussian coordinates they would make rare but perfectly
ordinary combinations (abroad, at night) look far out; that combination is the fraud pattern itself."""


@dataclass(frozen=True)
class _Pattern:
    """Mahalanobis geometry of the training data over one subset of the OOD features (the ones present)."""

    columns: npt.NDArray[np.intp]
    mean: Matrix
    precision: Matrix
    """Inverse covariance."""
    edge: float
    """Distance of the farthest training request: everything up to here was seen in training."""

    def distance(self, x: Matrix) -> float:
        delta = x[self.columns] - self.mean
        return math.sqrt(max(float(delta @ self.precision @ delta), 0.0))


@dataclass(frozen=True)
class OodDetector:
    """How far a request lies outside what the models were trained on: 0 inside, towards 1 far out.

    The Mahalanobis distance ``d`` of the request's continuous features (log amount, merchant_risk) from the
    training data's mean, in the training covariance's units, against ``edge``, the distance of the farthest
    training request: ``ood_score = 1 - exp(-(d - edge))`` beyond the edge, 0 within it. So 0.5 is ~0.7
    standard deviations beyond anything seen in training, 0.9 ~2.3. A request without merchant_risk is
    measured on the amount alone (its own edge). Mahalanobis rather than per-feature ranges: it accounts for
    correlated features and for a request that is unusual in several features at once.
    """

    patterns: tuple[_Pattern, ...]
    """One per subset of present OOD features; the amount is always present."""

    @classmethod
    def fit(cls, seed: int = DEFAULT_WORLD_SEED, data: list[Transaction] | None = None) -> OodDetector:
        data = training_data(seed) if data is None else data
        x = _matrix([request_vector(t.request) for t in data])[:, OOD_FEATURES]
        patterns = []
        for columns in (np.array([0, 1]), np.array([0])):
            rows = x[~np.isnan(x[:, columns]).any(axis=1)][:, columns]
            mean = rows.mean(axis=0)
            precision = np.linalg.pinv(np.atleast_2d(np.cov(rows, rowvar=False)))
            delta = rows - mean
            edge = float(np.sqrt(np.einsum("ij,jk,ik->i", delta, precision, delta).max()))
            patterns.append(_Pattern(columns, mean, precision, edge))
        return cls(tuple(patterns))

    def distance(self, request: Mapping[str, Any]) -> tuple[float, float]:
        """The request's Mahalanobis distance and the edge of the training data it is measured against."""
        x = _matrix([request_vector(request)])[0, OOD_FEATURES]
        present = np.flatnonzero(~np.isnan(x))
        pattern = next(p for p in self.patterns if np.array_equal(p.columns, present))
        return pattern.distance(x), pattern.edge

    def score(self, request: Mapping[str, Any]) -> float:
        distance, edge = self.distance(request)
        return round(1.0 - math.exp(-max(distance - edge, 0.0)), 4)
