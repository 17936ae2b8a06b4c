"""The primary model server: gradient-boosted trees on request + store features, behind ``POST /predict``.

The gateway reaches it only through the ``primary_model`` toxiproxy proxy. Run by supervisord as::

    python -m mlchaos.staging.primary --config WORKDIR/stack.json

``StackOptions.restart_delay_s`` makes its recovery time known: the server binds its port no earlier than
that many seconds after its process started (or as soon as it has trained, if that takes longer). After
supervisord restarts a killed server, the primary tier is therefore back ``restart_delay_s`` later: the ground
truth a scenario's measured MTTR can be checked against.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import psutil
import uvicorn
from fastapi import FastAPI

from mlchaos.staging.config import HOST, StackConfig
from mlchaos.staging.data import StoreFeatures
from mlchaos.staging.models import PrimaryModel, train_primary
from mlchaos.staging.schemas import PrimaryRequest, PrimaryResponse


def create_app(model: PrimaryModel) -> FastAPI:
    app = FastAPI(title="mlchaos primary model", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/predict")
    def predict(body: PrimaryRequest) -> PrimaryResponse:
        # A plain ``def``: FastAPI runs it in a worker thread, so a slow predict_proba never blocks the event
        # loop that answers health checks.
        store = StoreFeatures(
            body.txn_count_7d, body.avg_amount_30d, body.account_age_days, body.chargeback_rate
        )
        return PrimaryResponse(score=model.score(body.model_dump(), store))

    @app.get("/health/live")
    async def live() -> dict[str, Any]:
        return {"status": "alive"}

    @app.get("/health/ready")
    async def ready() -> dict[str, Any]:
        # The model is trained before the port is bound: whoever can connect is talking to a loaded model.
        return {"status": "ready", "checks": {"model_loaded": True}}

    return app


def _process_age_s() -> float:
    """Seconds since this process started, to the clock tick (psutil rounds boot time to whole seconds)."""
    try:
        # /proc/self/stat: field 22 is the start time in clock ticks since boot; the command name (field 2,
        # in parentheses) may contain spaces, so count from its closing parenthesis.
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):  # no /proc (macOS): psutil's estimate
        return time.time() - float(psutil.Process().create_time())


def _wait_for_restart_delay(delay_s: float) -> None:
    """Sleep until ``delay_s`` after this process started (not after now: start-up time counts towards it)."""
    remaining = delay_s - _process_age_s()
    if remaining > 0:
        time.sleep(remaining)


def main(argv: list[str] | None = None) -> None:
    config = StackConfig.from_argv(argv, prog="mlchaos.staging.primary")
    model = train_primary(config.options.seed)
    _wait_for_restart_delay(config.options.restart_delay_s)
    uvicorn.run(
        create_app(model),
        host=HOST,
        port=config.primary_port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )


if __name__ == "__main__":
    main()
