"""Pushing results to a Prometheus Pushgateway with prometheus_client, over mlchaos's bounded HTTP.

One push per suite (grouping key ``job`` + ``suite``) or per lone run (``job`` + ``scenario``), with PUT
(``push_to_gateway``): the group then holds exactly the latest result, and a verifier removed from a scenario does not
linger as a stale series. The last success time survives failing months because it is computed from the history
folder, not kept in the gateway.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import push_to_gateway

from mlchaos.experiments.publish.config import PushgatewayConfig
from mlchaos.experiments.publish.http import origin, send
from mlchaos.experiments.publish.metrics import registry
from mlchaos.experiments.publish.results import Finished


def grouping_key(finished: Finished) -> dict[str, str]:
    return {"suite": finished.name} if finished.kind == "suite" else {"scenario": finished.name}


def push(finished: Finished, config: PushgatewayConfig) -> str:
    """Push ``finished``; what was done, in words (:class:`~mlchaos.experiments.publish.http.SendFailed` if not)."""
    gateway = config.gateway()
    key = grouping_key(finished)
    push_to_gateway(
        gateway, job=config.job, registry=registry(finished), grouping_key=key, timeout=config.timeout,
        handler=_handler(config.timeout),
    )  # fmt: skip
    labels = ", ".join(f"{k}={v}" for k, v in {"job": config.job, **key}.items())
    return f"pushed to {origin(gateway)} ({labels})"


def _handler(timeout_s: float) -> Callable[..., Callable[[], None]]:
    """prometheus_client's handler protocol, sending through :func:`~mlchaos.experiments.publish.http.send`
    (a total deadline, no redirects off-origin, errors that name the origin only)."""

    def handler(
        url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
    ) -> Callable[[], None]:
        def run() -> None:
            send(method, url, data, dict(headers), timeout_s)

        return run

    return handler
