"""``scorer``: the gold model's server. It trains at start (a second or so), then listens.

POST /v1/infer {"features": [...]}   {"p_block": float}; the vector is ``models.GOLD_FEATURES`` in order
                                     422 for a vector of the wrong shape; 500 if the model raises (NaN)
GET  /healthz                        200

Run by supervisord as ``python -m riskd.scorer --config WORKDIR/riskd.json``.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.pipeline import Pipeline

from riskd import models
from riskd.config import RiskdConfig
from riskd.plainhttp import JsonHandler, serve


class ScorerHandler(JsonHandler):
    model: Pipeline  # trained by main(), before the port is bound: whoever connects gets a loaded model

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self.send_json(200, {"alive": True, "features": len(models.GOLD_FEATURES)})
        else:
            self.send_json(404, {"problem": "no such path"})

    def do_POST(self) -> None:
        if self.path != "/v1/infer":
            self.send_json(404, {"problem": "no such path"})
            return
        try:
            features = self.read_json()["features"]
            x = np.array([features], dtype=float)
        except (ValueError, TypeError, KeyError) as exc:
            self.send_json(422, {"problem": f"bad input: {exc}"})
            return
        if x.shape != (1, len(models.GOLD_FEATURES)):
            self.send_json(422, {"problem": f"expected {len(models.GOLD_FEATURES)} features, got {x.shape}"})
            return
        try:
            p = models.p_block(self.model, x)
        except ValueError as exc:  # sklearn refuses NaN/Infinity
            self.send_json(500, {"problem": f"model error: {exc}"})
            return
        self.send_json(200, {"p_block": p})


def main(argv: list[str] | None = None) -> None:
    config = RiskdConfig.from_argv(argv, prog="riskd.scorer")
    started_before = config.workdir / "scorer.started"
    if started_before.exists():  # a restart (after a kill): slow, as a rescheduled pod is
        time.sleep(config.scorer_restart_s)
    started_before.touch()
    ScorerHandler.model = models.train_gold()
    serve(ScorerHandler, config.ports.scorer)


if __name__ == "__main__":
    main()
