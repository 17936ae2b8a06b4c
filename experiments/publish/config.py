"""How results are published: the ``publish:`` block of a suite file, and the same settings from the command line.

A suite file::

    publish:
      webhook:
        url_env: MLCHAOS_WEBHOOK_URL      # the URL is a secret: named by an environment variable…
        # url_file: /var/run/secrets/mlchaos/webhook-url   # …or a file holding it (a mounted Secret)
        when: regression                  # always | failure | regression
        format: slack                     # slack | generic
      pushgateway:
        url: http://pushgateway.monitoring:9091
        job: mlchaos

A webhook URL is never written in the file itself: a Slack incoming-webhook URL *is* its credential, and suite
files are copied into every suite directory. ``mlchaos run`` and ``mlchaos suite`` take the same settings as
options (``--webhook-when``, ``--webhook-format``, ``--webhook-url-file``, ``--pushgateway``) and environment
variables (``MLCHAOS_WEBHOOK_URL``, …): what the command line gives replaces the suite file's value, field by field.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlchaos.experiments.durations import PositiveSeconds
from mlchaos.experiments.errors import InvalidInput

WEBHOOK_URL_ENV = "MLCHAOS_WEBHOOK_URL"
"""The environment variable ``mlchaos run``/``suite`` read a webhook URL from when nothing else names one."""
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_HTTP_URL = r"^https?://[^\s/?#]+(/[^\s]*)?$"


class When(enum.StrEnum):
    """When the webhook is called."""

    ALWAYS = "always"
    """After every run or suite."""
    FAILURE = "failure"
    """When it did not pass (a verifier failed, it aborted, its target was unusable)."""
    REGRESSION = "regression"
    """When a scenario got worse than its previous run (score, MTTR or p99 beyond the noise margin of the trend
    section) or a pass turned into anything else. Needs the earlier runs: ``--history``, by default ``--out``."""


class Format(enum.StrEnum):
    """The body the webhook receives."""

    SLACK = "slack"
    """Slack's incoming-webhook JSON (``text`` and ``blocks``); Mattermost and Rocket.Chat accept it too."""
    GENERIC = "generic"
    """mlchaos's own JSON document (docs/observability.md#the-generic-body)."""


class WebhookConfig(BaseModel):
    """A webhook called when a run or suite ends. Its URL comes from ``url_env`` or ``url_file``, never from the
    file: the URL of an incoming webhook is its credential."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url_env: str | None = Field(
        None,
        pattern=_ENV_NAME,
        description="Environment variable holding the URL; with neither this nor `url_file`: `MLCHAOS_WEBHOOK_URL`.",
    )
    url_file: Path | None = Field(
        None, description="File holding the URL, e.g. a mounted Secret (relative paths: to the suite file)."
    )
    when: When = Field(When.FAILURE, description="`always`, `failure` or `regression`.")
    format: Format = Field(Format.SLACK, description="`slack` (text + blocks) or `generic` (mlchaos's JSON).")
    timeout: PositiveSeconds = Field(
        10.0, description="Whole-request deadline; a slower webhook counts as failed."
    )

    @model_validator(mode="before")
    @classmethod
    def _no_literal_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and "url" in data:
            raise ValueError(
                "a webhook URL is a secret and this file is copied into every suite directory: name an "
                "environment variable (url_env: MLCHAOS_WEBHOOK_URL) or a file (url_file: PATH) holding it"
            )
        return data

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if self.url_env is not None and self.url_file is not None:
            raise ValueError("give url_env or url_file, not both")
        return self

    def url(self) -> str:
        """The URL, read now; :class:`PublishConfigError` saying where it was looked for if there is none."""
        if self.url_file is not None:
            try:
                text = self.url_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise PublishConfigError(f"webhook url_file {self.url_file}: {exc.strerror or exc}") from None
            where = f"file {self.url_file}"
        else:
            name = self.url_env or WEBHOOK_URL_ENV
            text, where = os.environ.get(name, "").strip(), f"environment variable {name}"
        if not text:
            raise PublishConfigError(f"webhook: {where} is empty or unset (expected an http(s) URL)")
        if not text.startswith(("http://", "https://")) or any(c.isspace() for c in text):
            raise PublishConfigError(f"webhook: {where} does not hold an http(s) URL")  # never quote a secret
        return text


class PushgatewayConfig(BaseModel):
    """A Prometheus Pushgateway the results are pushed to (the metrics: docs/reference/metrics.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = Field(None, pattern=_HTTP_URL, description="The Pushgateway's base URL.")
    url_env: str | None = Field(
        None, pattern=_ENV_NAME, description="…or an environment variable holding it."
    )
    job: str = Field("mlchaos", pattern=r"^[A-Za-z0-9_.:-]{1,80}$", description="The `job` grouping label.")
    timeout: PositiveSeconds = Field(10.0, description="Whole-request deadline for the push.")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give the Pushgateway's url or url_env (one of them)")
        return self

    def gateway(self) -> str:
        if self.url is not None:
            return self.url
        text = os.environ.get(self.url_env or "", "").strip()
        if not text.startswith(("http://", "https://")):
            raise PublishConfigError(f"pushgateway: environment variable {self.url_env} holds no http(s) URL")
        return text


class PublishConfig(BaseModel):
    """Where a suite's results go when it ends: a webhook and a Pushgateway, each optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook: WebhookConfig | None = Field(
        None, description="A chat or HTTP webhook called when the suite ends."
    )
    pushgateway: PushgatewayConfig | None = Field(
        None, description="A Prometheus Pushgateway to push results to."
    )

    def check(self) -> list[str]:
        """What keeps these settings from working now (a URL that is unset or unreadable), for a command to refuse
        before anything runs rather than to find out an hour later."""
        problems = []
        for part in (self.webhook, self.pushgateway):
            try:
                if isinstance(part, WebhookConfig):
                    part.url()
                elif isinstance(part, PushgatewayConfig):
                    part.gateway()
            except PublishConfigError as exc:
                problems.append(str(exc))
        return problems

    def resolved(self, base: Path) -> PublishConfig:
        """With a relative ``url_file`` made relative to ``base`` (the suite file's folder)."""
        webhook = self.webhook
        if webhook is not None and webhook.url_file is not None and not webhook.url_file.is_absolute():
            webhook = webhook.model_copy(update={"url_file": base / webhook.url_file})
        return self.model_copy(update={"webhook": webhook})


class PublishConfigError(InvalidInput):
    """Publishing settings that cannot be used (say which, never quoting a URL)."""


def overridden(
    base: PublishConfig | None,
    *,
    webhook_when: When | None = None,
    webhook_format: Format | None = None,
    webhook_url_file: Path | None = None,
    webhook_url_env: str | None = None,
    pushgateway: str | None = None,
) -> PublishConfig | None:
    """``base`` (a suite file's block) with the command line's values on top (``None``: not given); ``pushgateway``
    is a URL. ``None`` when neither configures anything. A webhook is configured when either names a URL source,
    or the default variable (:data:`WEBHOOK_URL_ENV`) is set."""
    given = {
        "when": webhook_when,
        "format": webhook_format,
        "url_file": webhook_url_file,
        "url_env": webhook_url_env,
    }
    base = base or PublishConfig()
    webhook: dict[str, object] = base.webhook.model_dump(exclude_unset=True) if base.webhook else {}
    webhook.update({key: value for key, value in given.items() if value is not None})
    if webhook_url_file is not None:
        webhook.pop("url_env", None)
    # A suite file's webhook without a source reads the default variable (and check() says so when it is unset).
    has_source = base.webhook is not None or "url_file" in webhook or "url_env" in webhook
    if not has_source and os.environ.get(WEBHOOK_URL_ENV):
        webhook["url_env"], has_source = WEBHOOK_URL_ENV, True
    gateway = base.pushgateway
    if pushgateway is not None:
        gateway = PushgatewayConfig(url=pushgateway, job=gateway.job if gateway else "mlchaos")
    result = PublishConfig(
        webhook=WebhookConfig.model_validate(webhook) if has_source else None, pushgateway=gateway
    )
    return None if result.webhook is None and result.pushgateway is None else result
