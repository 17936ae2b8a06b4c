"""riskd's generated world: 1000 customers with risk profiles, and card payments scored against them.

Everything is a pure function of a seed, so the profile store, the model server, the gateway and the tests all
see the same customers and the same ground truth without shipping or downloading anything.

A payment is risky mostly *relative to the customer*: ``value_eur`` far above the customer's
``avg_ticket_eur``, recent chargebacks, a young account. Only the profile store knows those, which is why the
gold tier (request + profile) is clearly better than silver (request only). The label is a deterministic rule
(:func:`risk_logit` > 0) that the gold model can learn exactly, so gold is both accurate and confident.

Training data and test traffic come from :func:`transactions` with different seeds: the same distribution, so
the drift monitor must stay quiet on test traffic and the OOD detector must not flag it.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

WORLD_SEED: Final = 4242
"""The profiles a stack serves; fixed, so that the shipped data file matches every stack."""
TRAIN_SEED: Final = 1
TRAIN_ROWS: Final = 6000
FILE_SEED: Final = 7
"""Seed of the shipped ``data/transactions.jsonl``."""
DATA_FILE: Final = Path(__file__).with_name("data") / "transactions.jsonl"

CUSTOMERS: Final = 1000
CHANNELS: Final = ("web", "app", "pos", "phone")
CHANNEL_SHARES: Final = (0.45, 0.30, 0.17, 0.08)
COUNTRIES: Final = ("DE", "FR", "ES", "IT", "NL", "PL")
COUNTRY_SHARES: Final = (0.34, 0.20, 0.14, 0.14, 0.10, 0.08)
NIGHT_SHARE: Final = 0.18
VALUE_RANGE: Final = (0.5, 20_000.0)
"""Generated values stay inside it; the API accepts 0..50000 (the rest is out-of-distribution)."""
BASKET_CAP: Final = 40

BLOCK: Final = "block"
ALLOW: Final = "allow"


def customer_ref(index: int) -> str:
    return f"C-{index:05d}"


@dataclass(frozen=True)
class Profile:
    customer_ref: str
    chargebacks_90d: int
    account_age_days: int
    avg_ticket_eur: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Profile:
        """Parse a profile store answer; raises KeyError/TypeError/ValueError on a bad one."""
        return cls(
            customer_ref=str(raw["customer_ref"]),
            chargebacks_90d=int(raw["chargebacks_90d"]),
            account_age_days=int(raw["account_age_days"]),
            avg_ticket_eur=float(raw["avg_ticket_eur"]),
        )


@functools.cache
def profiles(seed: int = WORLD_SEED) -> dict[str, Profile]:
    """customer_ref -> profile for C-00000..C-00999."""
    rng = np.random.default_rng([seed, 0])
    tickets = np.clip(np.exp(rng.normal(math.log(45.0), 0.75, CUSTOMERS)), 3.0, 1200.0)
    chargebacks = rng.choice(5, size=CUSTOMERS, p=[0.82, 0.11, 0.04, 0.02, 0.01])
    # Log-uniform ages: as many week-old accounts as decade-old ones, which is what makes age informative.
    ages = np.exp(rng.uniform(math.log(2), math.log(3650), CUSTOMERS)).astype(int)
    return {
        customer_ref(i): Profile(
            customer_ref(i), int(chargebacks[i]), int(ages[i]), round(float(tickets[i]), 2)
        )
        for i in range(CUSTOMERS)
    }


def risk_logit(body: dict[str, Any], profile: Profile) -> float:
    """The ground truth: a payment is to be blocked iff this is positive. Linear in the gold model's features
    (see ``models.gold_vector``), so gold can learn it exactly; silver sees only part of it."""
    ratio = math.log1p(float(body["value_eur"])) - math.log1p(profile.avg_ticket_eur)
    return float(
        -2.4
        + 1.7 * ratio
        + 0.9 * profile.chargebacks_90d
        + 1.1 * bool(body["night"])
        + 0.9 * (body["channel"] == "phone")
        + 0.35 * (body["channel"] == "web")
        - 0.35 * math.log1p(profile.account_age_days / 30.0)
        + 0.06 * int(body["basket_items"])
        + 0.5 * (body["country"] == "PL")
        + 0.3 * (body["country"] == "ES")
    )


def label(body: dict[str, Any], profile: Profile) -> str:
    return BLOCK if risk_logit(body, profile) > 0 else ALLOW


def transactions(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` payments ``{"body": <request body>, "label": "block"|"allow"}`` for known customers."""
    rng = np.random.default_rng([seed, 1])
    world = profiles()
    customers = rng.integers(0, CUSTOMERS, n)
    channels = rng.choice(len(CHANNELS), size=n, p=CHANNEL_SHARES)
    countries = rng.choice(len(COUNTRIES), size=n, p=COUNTRY_SHARES)
    nights = rng.random(n) < NIGHT_SHARE
    baskets = np.minimum(1 + rng.poisson(1.6, n) + rng.poisson(1.0, n) * (channels == 2), BASKET_CAP)
    # Mostly near the customer's usual ticket; 7 % are "big" purchases, 3 to 15 times it.
    spikes = np.where(rng.random(n) < 0.07, np.exp(rng.uniform(1.0, 2.7, n)), 1.0)
    factors = np.exp(rng.normal(0.0, 0.55, n)) * spikes
    rows = []
    for i in range(n):
        profile = world[customer_ref(int(customers[i]))]
        value = float(np.clip(profile.avg_ticket_eur * factors[i], *VALUE_RANGE))
        body = {
            "customer_ref": profile.customer_ref,
            "value_eur": round(value, 2),
            "channel": CHANNELS[int(channels[i])],
            "country": COUNTRIES[int(countries[i])],
            "night": bool(nights[i]),
            "basket_items": int(baskets[i]),
        }
        rows.append({"body": body, "label": label(body, profile)})
    return rows


@functools.cache
def training_rows(seed: int = TRAIN_SEED) -> list[tuple[dict[str, Any], Profile, str]]:
    """What the models are trained on: (body, the customer's profile, label). Cached: do not mutate."""
    world = profiles()
    return [(t["body"], world[t["body"]["customer_ref"]], t["label"]) for t in transactions(TRAIN_ROWS, seed)]


def write_jsonl(path: Path | str, n: int, seed: int) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for row in transactions(n, seed):
            out.write(json.dumps(row, separators=(",", ":")) + "\n")
    return path


def read_jsonl(path: Path | str = DATA_FILE) -> list[dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


if __name__ == "__main__":  # regenerate the shipped file: python -m riskd.data
    print(write_jsonl(DATA_FILE, 1500, FILE_SEED))
