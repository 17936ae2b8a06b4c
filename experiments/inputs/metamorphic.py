"""Metamorphic tests under load (seed 000's behavioural tests): a transformation with a declared effect on the
answer, applied to a clean request. Both requests go out back to back, tagged with the transformation and one
``pair`` id; ``expected`` is ``original`` on the first and the relation (``same``/``higher``/``lower``) on the
second."""

from __future__ import annotations

import json
from typing import Any

from mlchaos.experiments.inputs.outgoing import Outgoing, encode
from mlchaos.experiments.inputs.windows import Transformation

ORIGINAL = "original"


def pair(transformation: Transformation, body: dict[str, Any], pair_id: str) -> tuple[Outgoing, Outgoing]:
    """The original request and its transformation, both tagged ``metamorphic:<transformation>``."""
    original, transformed = _TRANSFORMS[transformation](body)
    tag = f"metamorphic:{transformation.value}"
    return (
        Outgoing(original, input=tag, pair=pair_id, expected=ORIGINAL),
        Outgoing(transformed, input=tag, pair=pair_id, expected=transformation.relation.value),
    )


def _key_order(body: dict[str, Any]) -> tuple[bytes, bytes]:
    return encode(body), encode(dict(reversed(body.items())))


def _whitespace(body: dict[str, Any]) -> tuple[bytes, bytes]:
    return encode(body), json.dumps(body, indent=4, separators=(" , ", " : ")).encode()


def _amount_as_float(body: dict[str, Any]) -> tuple[bytes, bytes]:
    whole = round(float(body.get("amount", 100)))
    original = encode({**body, "amount": whole})
    # json.dumps writes 100.0 for float(100): the only difference is the ".0"
    return original, encode({**body, "amount": float(whole)})


def _merchant_risk_up(body: dict[str, Any]) -> tuple[bytes, bytes]:
    risk = float(body.get("merchant_risk") or 0.0)
    base = {**body, "merchant_risk": risk}
    return encode(base), encode({**base, "merchant_risk": round(min(1.0, risk + 0.5), 4)})


def _foreign_on(body: dict[str, Any]) -> tuple[bytes, bytes]:
    return encode({**body, "is_foreign": False}), encode({**body, "is_foreign": True})


_TRANSFORMS = {
    Transformation.KEY_ORDER: _key_order,
    Transformation.WHITESPACE: _whitespace,
    Transformation.AMOUNT_AS_FLOAT: _amount_as_float,
    Transformation.MERCHANT_RISK_UP: _merchant_risk_up,
    Transformation.FOREIGN_ON: _foreign_on,
}
