"""Whether a run publishes traces or annotations, read from the environment only: the standard ``OTEL_*``
variables for OpenTelemetry, ``MLCHAOS_GRAFANA_*`` for Grafana. Both are off unless asked for, and reading these
settings imports nothing of the OpenTelemetry SDK.

Traces are on when an OTLP endpoint is named (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
``OTEL_EXPORTER_OTLP_ENDPOINT``) or ``OTEL_TRACES_EXPORTER`` says ``otlp`` (the SDK's default endpoint,
``http://localhost:4318``), and off with ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` whatever else
is set. mlchaos ships the OTLP/HTTP protobuf exporter only: another exporter or protocol is reported and traces
stay off rather than going somewhere unexpected. Everything else (headers, certificates, compression, the export
timeout, ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, the sampler) is read by the SDK itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlchaos.experiments.redaction import redact_text

SUPPORTED_PROTOCOL = "http/protobuf"
DEFAULT_OTLP_ENDPOINT = "http://localhost:4318"
GRAFANA_URL = "MLCHAOS_GRAFANA_URL"
GRAFANA_TOKEN = "MLCHAOS_GRAFANA_TOKEN"
GRAFANA_TOKEN_FILE = "MLCHAOS_GRAFANA_TOKEN_FILE"


@dataclass(frozen=True)
class TraceSettings:
    endpoint: str
    """Where spans go, as the exporter resolves it; for messages (secrets in it masked)."""


@dataclass(frozen=True)
class GrafanaSettings:
    url: str
    """Grafana's base URL (``http://grafana.monitoring:3000``); annotations go to ``URL/api/annotations``."""
    token: str | None = field(default=None, repr=False)
    """A service account token, sent as ``Authorization: Bearer``; never written or printed anywhere."""


@dataclass(frozen=True)
class Publishing:
    """What a run publishes, and what in the environment was asked for but cannot be done (said once)."""

    traces: TraceSettings | None = None
    grafana: GrafanaSettings | None = None
    problems: tuple[str, ...] = ()


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def trace_settings(environ: Mapping[str, str]) -> tuple[TraceSettings | None, list[str]]:
    """Traces on or off per the ``OTEL_*`` variables (see the module), and why a request for them is refused."""
    if _true(environ.get("OTEL_SDK_DISABLED")):
        return None, []
    exporters = [e.strip().lower() for e in environ.get("OTEL_TRACES_EXPORTER", "").split(",") if e.strip()]
    if "none" in exporters:
        return None, []
    traces_endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if not (traces_endpoint or base or exporters):
        return None, []
    problems = []
    if other := [e for e in exporters if e != "otlp"]:
        problems.append(
            f"OTEL_TRACES_EXPORTER={','.join(other)} is not one mlchaos ships (otlp, none): "
            + ("only otlp is used" if "otlp" in exporters else "traces are off")
        )
        if "otlp" not in exporters:
            return None, problems
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or ""
    ).strip()
    if protocol and protocol != SUPPORTED_PROTOCOL:
        problems.append(
            f"OTLP protocol {protocol!r} is not supported (only {SUPPORTED_PROTOCOL}): traces are off"
        )
        return None, problems
    endpoint = traces_endpoint or f"{(base or DEFAULT_OTLP_ENDPOINT).removesuffix('/')}/v1/traces"
    return TraceSettings(redact_text(endpoint)), problems


def grafana_settings(environ: Mapping[str, str]) -> tuple[GrafanaSettings | None, list[str]]:
    """Annotations on when ``MLCHAOS_GRAFANA_URL`` is set; the token from ``MLCHAOS_GRAFANA_TOKEN`` or the file
    ``MLCHAOS_GRAFANA_TOKEN_FILE`` names (a mounted Secret)."""
    url = environ.get(GRAFANA_URL, "").strip()
    if not url:
        return None, []
    if not url.startswith(("http://", "https://")):
        return None, [
            f"{GRAFANA_URL} must be an http:// or https:// URL, not {redact_text(url)!r}: no annotations"
        ]
    token = environ.get(GRAFANA_TOKEN, "").strip() or None
    if token is None and (token_file := environ.get(GRAFANA_TOKEN_FILE, "").strip()):
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            return None, [
                f"cannot read {GRAFANA_TOKEN_FILE} {token_file}: {exc.strerror or exc}: no annotations"
            ]
    return GrafanaSettings(url.removesuffix("/"), token), []


def publishing(environ: Mapping[str, str] | None = None) -> Publishing:
    """What the environment (``os.environ`` by default) asks a run to publish."""
    env = os.environ if environ is None else environ
    traces, trace_problems = trace_settings(env)
    grafana, grafana_problems = grafana_settings(env)
    return Publishing(traces, grafana, (*trace_problems, *grafana_problems))
