"""The reference stack, declared as any team declares its service in an mlchaos target file: where its answers
say which tier served them, its tier ladder, its breaker and drift metrics, its request schema and input contract.

mlchaos' embedded target uses exactly this; ``mlchaos staging up`` prints it as part of an external target file.
It is plain data on purpose: the reference stack stands alone (it imports nothing of the harness), and this is
the same shape a team writes in YAML.
"""

from __future__ import annotations

from typing import Any, Final

DECLARATION: Final[dict[str, Any]] = {
    "predict_path": "/predict",
    "health": {
        "live": "/health/live",
        "ready": "/health/ready",
        "inference": "/health/inference",
        "metrics": "/metrics",
    },
    "response": {
        "tier": "tier",
        "confidence": "confidence",
        "prediction": "prediction",
        "score": "score",
        "review": "review",
        # A shed request is a 200 from the rules tier, or a 429 whose body is an error: the header marks both.
        "shed": "header:X-Shed",
    },
    "tiers": ["primary", "fallback", "rules", "cache", "static"],
    "signals": {
        "breakers": [
            {
                "metric": "mlchaos_gateway_breaker_state",
                "dependency_label": "dependency",
                "state_label": "state",
            }
        ],
        "transitions": [
            {
                "metric": "mlchaos_gateway_breaker_transitions",
                "dependency_label": "dependency",
                "from_label": "from_state",
                "to_label": "to_state",
            }
        ],
        "drift": {
            "alarm": {"metric": "mlchaos_gateway_drift_alarm"},
            "onsets": {"metric": "mlchaos_gateway_drift_alarms"},
        },
    },
    "request": {
        # `typical`: the range the models were trained on (data.py draws amounts below ~5000, any merchant risk),
        # wider than a small dataset shows; out-of-distribution inputs are built beyond or across it.
        "features": {
            "entity_id": {"type": "id"},
            "amount": {"type": "number", "min": 0, "max": 1e9, "typical": [0, 5000]},
            "hour": {"type": "integer", "min": 0, "max": 23, "required": False},
            "merchant_risk": {"type": "number", "min": 0, "max": 1, "typical": [0, 1], "required": False},
            "is_foreign": {"type": "bool", "required": False},
        },
    },
    "input_contract": {"extra_fields": "reject", "content_type": "strict", "max_body_bytes": 16 * 1024},
}
"""The reference gateway's conventions (see ``gateway/app.py`` and ``schemas.py``; a test keeps the body limit equal
to the gateway's ``MAX_BODY_BYTES``, not imported here: that would load FastAPI into every harness process)."""
