"""Distribution shift: clean requests with moved features (covariate shift), and out-of-distribution inputs
that still pass the schema — the traffic a drift monitor and an OOD router exist for."""

from __future__ import annotations

import math
import random
from typing import Any

from mlchaos.experiments.inputs.outgoing import Outgoing, encode
from mlchaos.experiments.inputs.windows import CovariateSend, OodKind

_MAX_AMOUNT = 1e9
"""The reference schema's largest amount: OOD inputs stay valid, so they test routing, not validation."""


def _moved(value: Any, scale: float, offset: float) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value  # only numbers move; a categorical feature shifts with `swap`
    moved = value * scale + offset
    return round(moved) if isinstance(value, int) else round(moved, 4)


def covariate(body: dict[str, Any], send: CovariateSend) -> Outgoing:
    """``body`` with each named feature scaled and offset, then the ``swap`` pair exchanged."""
    shifted = dict(body)
    for name in send.scale.keys() | send.offset.keys():
        if name in shifted:
            shifted[name] = _moved(shifted[name], send.scale.get(name, 1.0), send.offset.get(name, 0.0))
    if send.swap is not None:
        a, b = send.swap
        if a in shifted and b in shifted:
            shifted[a], shifted[b] = shifted[b], shifted[a]
    return Outgoing(encode(shifted), input="shift:covariate")


def ood(kind: OodKind, body: dict[str, Any], rng: random.Random) -> Outgoing:
    """An out-of-distribution request of ``kind``; ``body`` lends it a known entity where one is kept."""
    entity = body.get("entity_id", "u0000")
    if kind == OodKind.EXTREME:
        made: dict[str, Any] = {**body, "amount": round(10 ** rng.uniform(6, math.log10(_MAX_AMOUNT)), 2)}
    elif kind == OodKind.IMPOSSIBLE:
        made = {
            "entity_id": entity,
            "amount": round(rng.uniform(0, 0.01), 4),
            "hour": 3,
            "merchant_risk": 1.0,
            "is_foreign": True,
        }
    else:
        made = {
            "entity_id": f"zz{rng.randrange(16**8):08x}",
            "amount": round(10 ** rng.uniform(-2, math.log10(_MAX_AMOUNT)), 2),
            "hour": rng.randrange(24),
            "merchant_risk": round(rng.random(), 4),
            "is_foreign": rng.random() < 0.5,
        }
    return Outgoing(encode(made), input=f"ood:{kind.value}")
