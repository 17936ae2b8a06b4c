"""Run the gateway (one uvicorn process), as supervisord does::

python -m mlchaos.staging.gateway --config WORKDIR/stack.json
"""

from __future__ import annotations

import logging

import uvicorn

from mlchaos.staging.config import HOST, StackConfig
from mlchaos.staging.data import training_data
from mlchaos.staging.gateway.app import create_app
from mlchaos.staging.gateway.service import build_gateway
from mlchaos.staging.models import OodDetector, train_fallback


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = StackConfig.from_argv(argv, prog="mlchaos.staging.gateway")
    # Train before binding the port: whoever can connect gets a gateway with its fallback model loaded.
    data = training_data(config.options.seed)
    gateway = build_gateway(
        config,
        fallback=train_fallback(config.options.seed, data),
        ood=OodDetector.fit(config.options.seed, data),
        training=data,
    )
    uvicorn.run(
        create_app(gateway),
        host=HOST,
        port=config.gateway_port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )


if __name__ == "__main__":
    main()
