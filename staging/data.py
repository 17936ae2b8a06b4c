"""The generated world of the reference stack: card transactions, some of them fraud.

Everything here is a pure function of a seed, so every process of a stack (and every test) sees the same
entities, the same training data and the same canaries without shipping or downloading anything.

A request carries what the client knows about one transaction (``amount``, ``hour``, ``merchant_risk``,
``is_foreign``) plus the ``entity_id`` of the card holder. The feature store holds what only history knows
about that entity (``txn_count_7d``, ``avg_amount_30d``, ``account_age_days``, ``chargeback_rate``). Fraud
depends on both, and most strongly on the *combination* "amount far above this entity's usual spend", which is
why the primary model (request + store features) is clearly better than the fallback (request features only).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np

ENTITY_COUNT: Final = 1000
DEFAULT_WORLD_SEED: Final = 7
"""Equals ``StackOptions().seed``: the world a default stack serves."""

FRAUD: Final = "fraud"
LEGIT: Final = "legit"

REQUEST_FIELDS: Final = ("entity_id", "amount", "hour", "merchant_risk", "is_foreign")
OPTIONAL_REQUEST_FIELDS: Final = ("hour", "merchant_risk", "is_foreign")
"""Clients do not always know these; the models impute them, the rules may decline without them."""
STORE_FIELDS: Final = ("txn_count_7d", "avg_amount_30d", "account_age_days", "chargeback_rate")

# Different streams of one seed, so that e.g. drawing more training rows never changes the feature store.
_STORE_STREAM: Final = 0
_TRAIN_STREAM: Final = 1
_SAMPLE_STREAM: Final = 2
_TRAIN_ROWS: Final = 12_000
_TRAIN_MISSING_RATE: Final = 0.05


@dataclass(frozen=True)
class StoreFeatures:
    """What the feature store knows about one entity."""

    txn_count_7d: int
    avg_amount_30d: float
    account_age_days: int
    chargeback_rate: float

    def to_redis(self) -> dict[str, str]:
        """As a Redis hash (all values are strings there)."""
        return {name: repr(value) for name, value in asdict(self).items()}

    @classmethod
    def from_redis(cls, raw: Mapping[str, str]) -> StoreFeatures:
        """Parse a hash written by :meth:`to_redis`; raises ``KeyError``/``ValueError`` on a bad record."""
        return cls(
            txn_count_7d=int(raw["txn_count_7d"]),
            avg_amount_30d=float(raw["avg_amount_30d"]),
            account_age_days=int(raw["account_age_days"]),
            chargeback_rate=float(raw["chargeback_rate"]),
        )


@dataclass(frozen=True)
class Transaction:
    """One labelled example: the request body, the entity's store features and the true label."""

    request: dict[str, Any]
    store: StoreFeatures
    label: str


def entity_id(index: int) -> str:
    return f"u{index:04d}"


def feature_store_key(entity: str) -> str:
    """The Redis key of an entity's store features (a hash)."""
    return f"features:{entity}"


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def make_feature_store(seed: int = DEFAULT_WORLD_SEED) -> dict[str, StoreFeatures]:
    """The feature store's contents for a world seed: entity_id -> features, for all the entities."""
    rng = _rng(seed, _STORE_STREAM)
    n = ENTITY_COUNT
    txn_count = rng.poisson(rng.gamma(2.0, 5.0, n))
    avg_amount = np.round(rng.lognormal(3.8, 0.8, n), 2)
    age_days = np.maximum(1, rng.exponential(700.0, n)).astype(int)
    chargeback = np.round(rng.beta(0.6, 25.0, n), 4)
    return {
        entity_id(i): StoreFeatures(
            int(txn_count[i]), float(avg_amount[i]), int(age_days[i]), float(chargeback[i])
        )
        for i in range(n)
    }


def feature_store_records(seed: int = DEFAULT_WORLD_SEED) -> dict[str, dict[str, str]]:
    """What to write into Redis: key -> hash fields (see :func:`feature_store_key`)."""
    return {feature_store_key(entity): f.to_redis() for entity, f in make_feature_store(seed).items()}


def fraud_logit(request: Mapping[str, Any], store: StoreFeatures) -> float:
    """The ground truth: log-odds that a transaction is fraud.

    Missing optional request fields count as their benign value: the *truth* does not change because a client
    forgot to send a field, only what the models can know about it.
    """
    ratio = float(request["amount"]) / max(store.avg_amount_30d, 1.0)
    hour = request.get("hour")
    logit = (
        -5.2
        + 2.2 * min(max(math.log(max(ratio, 1e-3)), -1.0), 4.0)  # spending far above the usual
        + 45.0 * store.chargeback_rate
        + (1.8 if store.account_age_days < 60 else 0.0)  # fresh accounts are where fraud lives
        + 0.15 * max(store.txn_count_7d - 15, 0)  # sudden bursts of activity
        + 5.0 * float(request.get("merchant_risk") or 0.0)
        + (1.6 if request.get("is_foreign") else 0.0)
        + (1.6 if hour is not None and hour < 6 else 0.0)  # night hours
    )
    return 1.5 * logit  # steeper than a plain logistic: the label is mostly, not entirely, predictable


# When people shop (fraudsters keep other hours; that part lives in fraud_logit).
_HOURLY_SHOPPING: Final = (1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 5, 4, 3, 2, 2)


def _draw(
    rng: np.random.Generator, n: int, store: Mapping[str, StoreFeatures], missing_rate: float
) -> list[Transaction]:
    entities = rng.integers(0, ENTITY_COUNT, n).tolist()
    spike = rng.random(n) < 0.12  # now and then a purchase far above the usual (cards get stolen)
    spend = np.where(spike, rng.lognormal(1.6, 0.6, n), rng.lognormal(0.0, 0.45, n)).tolist()
    hours = rng.choice(24, n, p=np.array(_HOURLY_SHOPPING) / sum(_HOURLY_SHOPPING)).tolist()
    merchant_risk = rng.beta(1.5, 5.0, n).round(4).tolist()
    is_foreign = (rng.random(n) < 0.15).tolist()
    missing = (rng.random((n, len(OPTIONAL_REQUEST_FIELDS))) < missing_rate).tolist()
    coin = rng.random(n).tolist()
    out: list[Transaction] = []
    for i in range(n):  # plain Python floats from here on: numpy scalars are slow one at a time
        entity = entity_id(entities[i])
        features = store[entity]
        request: dict[str, Any] = {
            "entity_id": entity,
            "amount": round(features.avg_amount_30d * spend[i], 2),
            "hour": hours[i],
            "merchant_risk": merchant_risk[i],
            "is_foreign": is_foreign[i],
        }
        for name, absent in zip(OPTIONAL_REQUEST_FIELDS, missing[i], strict=True):
            if absent:
                del request[name]
        p_fraud = 1.0 / (1.0 + math.exp(-fraud_logit(request, features)))
        out.append(Transaction(request, features, FRAUD if coin[i] < p_fraud else LEGIT))
    return out


def training_data(seed: int = DEFAULT_WORLD_SEED, n: int = _TRAIN_ROWS) -> list[Transaction]:
    """Labelled transactions to train on; a few optional fields are missing, as in real traffic."""
    return _draw(_rng(seed, _TRAIN_STREAM), n, make_feature_store(seed), _TRAIN_MISSING_RATE)


def sample_requests(
    n: int, seed: int, *, world_seed: int = DEFAULT_WORLD_SEED, missing_rate: float = 0.0
) -> list[tuple[dict[str, Any], str]]:
    """``n`` request bodies for ``POST /predict`` with their true labels, for load datasets and canaries.

    ``seed`` picks the sample; ``world_seed`` must be the stack's ``StackOptions.seed`` so that the labels
    agree with the feature store it serves. ``missing_rate`` drops optional fields (exercising the rules'
    decline path). The draw never overlaps the training data's random stream.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = np.random.default_rng([world_seed, _SAMPLE_STREAM, seed])
    return [(t.request, t.label) for t in _draw(rng, n, make_feature_store(world_seed), missing_rate)]


CANARY_REQUEST: Final[dict[str, Any]] = {
    "entity_id": "u0000",
    "amount": 900.0,
    "hour": 3,
    "merchant_risk": 0.85,
    "is_foreign": True,
}
"""The deep health check's known input: at night, abroad, at a risky merchant, far above usual spending.
Fraud by every tier that computes an answer (primary, fallback, rules), whatever the seed (a test checks)."""
CANARY_LABEL: Final = FRAUD
