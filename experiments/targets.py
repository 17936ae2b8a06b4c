"""What a scenario runs against: the embedded reference stack, or endpoints the user already runs.

A target file (``--target FILE``) or the scenario's ``target:`` field says which. Either way the engine ends up
with one :class:`TargetEndpoints`: the URLs and names the load, the probes and the injectors act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from mlchaos.staging.options import StackOptions


class ResponseFields(BaseModel):
    """Where the service says which tier answered, how confident it was, and what it predicted.

    A plain name reads a top-level JSON field; ``header:NAME`` reads a response header.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    tier: str = "tier"
    confidence: str = "confidence"
    prediction: str = "prediction"


class HealthPaths(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    live: str = "/health/live"
    ready: str = "/health/ready"
    inference: str = "/health/inference"
    metrics: str = "/metrics"


def _loopback_only(url: str) -> str:
    host = urlsplit(url).hostname or ""
    if host not in {"127.0.0.1", "localhost", "::1"} and not host.startswith("127."):
        raise ValueError(
            f"{url!r} is not on loopback; mlchaos only sends traffic to 127.0.0.0/8, localhost or ::1"
        )
    return url.rstrip("/")


class EmbeddedTarget(StackOptions):
    """mlchaos starts the reference stack itself under supervisord and tears it down afterwards."""

    kind: Literal["embedded"] = "embedded"


class ExternalTarget(BaseModel):
    """A stack the user already runs locally (e.g. ``mlchaos staging up``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["external"]
    service_url: str = Field(description="Base URL of the service under test.")
    predict_path: str = "/predict"
    toxiproxy_url: str | None = Field(None, description="Toxiproxy API, needed by network faults.")
    supervisor_url: str | None = Field(None, description="supervisord XML-RPC URL, needed by pod_kill.")
    proxies: dict[str, str] = Field(
        default_factory=dict, description="Dependency name -> toxiproxy proxy name, e.g. feature_store: fs."
    )
    programs: tuple[str, ...] = Field((), description="Supervised program names pod_kill may target.")
    health: HealthPaths = HealthPaths()
    response: ResponseFields = ResponseFields()
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="Sent with every request; values are redacted everywhere."
    )

    @field_validator("service_url", "toxiproxy_url", "supervisor_url")
    @classmethod
    def _on_loopback(cls, value: str | None) -> str | None:
        return None if value is None else _loopback_only(value)


Target = Annotated[EmbeddedTarget | ExternalTarget, Field(discriminator="kind")]


@dataclass(frozen=True)
class TargetEndpoints:
    """A reachable target, resolved: what the load, probes and injectors act on."""

    service_url: str
    predict_path: str = "/predict"
    toxiproxy_url: str | None = None
    supervisor_url: str | None = None
    proxies: dict[str, str] = field(default_factory=dict)
    programs: tuple[str, ...] = ()
    health: HealthPaths = field(default_factory=HealthPaths)
    response: ResponseFields = field(default_factory=ResponseFields)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
