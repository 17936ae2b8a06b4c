"""Publishing results where a team looks: a webhook message (Slack or generic JSON) and metrics pushed to a
Prometheus Pushgateway, when a run or a suite ends (docs/observability.md).

The runner calls :func:`after_run` or :func:`after_suite` once the outputs are written; settings come from a suite's
``publish:`` block and the command line (:class:`PublishConfig`). Publishing never changes a verdict or an exit code.
Each run's spans and Grafana annotations, published as it goes, live here too (``telemetry``, ``otel``, ``grafana``).
"""

from mlchaos.experiments.publish.config import (
    Format,
    PublishConfig,
    PublishConfigError,
    PushgatewayConfig,
    WebhookConfig,
    When,
    overridden,
)
from mlchaos.experiments.publish.step import LOG_NAME, Attempt, after_run, after_suite

__all__ = [
    "LOG_NAME",
    "Attempt",
    "Format",
    "PublishConfig",
    "PublishConfigError",
    "PushgatewayConfig",
    "WebhookConfig",
    "When",
    "after_run",
    "after_suite",
    "overridden",
]
