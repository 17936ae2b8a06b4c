"""What mlchaos must know of a service it sends traffic to, whatever runs it: :class:`ServiceDeclaration` — its
paths, how its answers read, its tier ladder, signals, request schema and input contract, and the hosts it may be
reached on — and the host rules every URL of a target is held to (:func:`allowed_url`).

External and Kubernetes targets (:mod:`mlchaos.experiments.targets`) are declarations plus where the service runs;
an embedded target uses the reference stack's declaration.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from mlchaos.experiments.hosts import allowed_host_entry, refusal, url_host
from mlchaos.experiments.inputs.contract import InputContract
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.signals import Signals


class ResponseFields(BaseModel):
    """Where the service's answers say what they are. A plain name reads a JSON field, ``a.b`` walks nested
    objects and ``outputs.0.data.1`` list indices too; ``header:NAME`` reads a response header. Unset optional
    fields are not read (their record columns stay empty)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tier: str = Field("tier", description="Which tier of the ladder served the answer.")
    confidence: str = Field("confidence", description="Confidence of the prediction, 0..1.")
    prediction: str = Field("prediction", description="The predicted class.")
    score: str | None = Field(
        None, description="Score of the positive class (metamorphic `higher`/`lower`, attacks)."
    )
    review: str | None = Field(None, description="True/1 when the service flagged the answer for review.")
    shed: str | None = Field(None, description="True/1 when the service shed the request under overload.")

    @property
    def specs(self) -> tuple[str, ...]:
        """Every field spec that is read."""
        optional = (self.score, self.review, self.shed)
        return (self.tier, self.confidence, self.prediction, *(s for s in optional if s is not None))


class HealthPaths(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    live: str = Field("/health/live", description="Liveness: the process serves.")
    ready: str = Field(
        "/health/ready", description="Readiness: it may be sent traffic (preflight waits on it)."
    )
    inference: str | None = Field(
        "/health/inference", description="Deep check through the model chain; null if the service has none."
    )
    metrics: str | None = Field(
        "/metrics", description="Prometheus text exposition read for signals given as `metric`."
    )


DEFAULT_TIERS: tuple[str, ...] = ("primary", "fallback", "rules", "cache", "static")
"""The tier ladder of a target that declares none: the glossary's fallback chain, best first."""
TierName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=40)]
HostEntry = Annotated[str, AfterValidator(allowed_host_entry)]


class ServiceDeclaration(BaseModel):
    """What mlchaos needs to know of a service it sends traffic to: its paths, how its answers read, its tier
    ladder, the signals it exposes, its request schema and input contract, and where it may be reached.
    Embedded targets use the reference stack's declaration; external and Kubernetes targets declare their own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    predict_path: str = Field("/predict", description="Path the load POSTs requests to.")
    health: HealthPaths = HealthPaths()
    response: ResponseFields = ResponseFields()
    tiers: tuple[TierName, ...] = Field(
        DEFAULT_TIERS,
        min_length=1,
        description="The service's tier names, best first (the first is the normal, full-quality tier).",
    )
    signals: Signals = Signals()
    request: RequestSchema = RequestSchema()
    input_contract: InputContract = InputContract()
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="Sent with every request; values are redacted everywhere."
    )
    allowed_hosts: tuple[HostEntry, ...] = Field(
        (),
        description="Host names or IP addresses (besides loopback) mlchaos may send traffic to; every URL of "
        "the target must be on loopback or one of these (see mlchaos.experiments.hosts).",
    )
    allow_production: bool = Field(
        False, description="Run even though a host, context or namespace looks like production."
    )

    @field_validator("tiers")
    @classmethod
    def _unique_tiers(cls, tiers: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({t for t in tiers if tiers.count(t) > 1})
        if repeated:
            raise ValueError(f"each tier once, best first; repeated: {', '.join(repeated)}")
        return tiers

    @model_validator(mode="after")
    def _metrics_path_for_metric_signals(self) -> ServiceDeclaration:
        """Refused at ``health.metrics``' line: the prober would have nowhere to read those signals from."""
        if self.health.metrics is None and any(s.metric is not None for s in self.signals.sources):
            why = (
                "signals given as 'metric' are read from the service's Prometheus exposition, but "
                "health.metrics is null: give its path (e.g. /metrics), or read them through PromQL ('query')"
            )
            error = PydanticCustomError("value_error", "{error}", {"error": why})
            details = InitErrorDetails(type=error, loc=("health", "metrics"), input=None)
            raise ValidationError.from_exception_data(type(self).__name__, [details])
        return self

    def cluster_namespaces(self) -> tuple[str, ...] | None:
        """Namespaces whose Services may be contacted by their cluster names (Kubernetes targets only)."""
        return None

    @model_validator(mode="after")
    def _prometheus_allowed(self, info: ValidationInfo) -> ServiceDeclaration:
        """``signals.prometheus_url`` is held to the rules of the target's own URLs (:func:`allowed_url`). Here,
        not in a field validator: the signals come before ``allowed_hosts``. The error is placed at its line."""
        url = self.signals.prometheus_url
        if url is None:
            return self
        try:
            why = refusal(
                url_host(url),
                allowed_hosts=self.allowed_hosts,
                allowed_namespaces=self.cluster_namespaces(),
                allow_production=self.allow_production or allowed_by_context(info),
            )
        except ValueError as exc:
            why = str(exc)
        if why is not None:  # raised as a ValidationError, pydantic keeps its location under this model's
            error = PydanticCustomError("value_error", "{error}", {"error": why})
            details = InitErrorDetails(type=error, loc=("signals", "prometheus_url"), input=url)
            raise ValidationError.from_exception_data(type(self).__name__, [details])
        return self


ALLOW_PRODUCTION = "allow_production"
"""The validation-context key by which ``--allow-production`` allows production-looking hosts (the loader sets
it)."""


def allowed_by_context(info: ValidationInfo) -> bool:
    return bool((info.context or {}).get(ALLOW_PRODUCTION))


def allowed_url(url: str, info: ValidationInfo, *, namespaces: tuple[str, ...] | None = None) -> str:
    """A URL mlchaos will contact, as a target's field validator sees it (without a trailing slash): http(s),
    with a host and no credentials, on loopback or an allowed host, and not production unless allowed
    (:mod:`mlchaos.experiments.hosts`). The allowlist is in fields validated before the URL; when one of them
    is itself invalid (and reported), only the URL's form is checked. ``namespaces``: a Kubernetes target's."""
    host = url_host(url)
    data = info.data
    if "allowed_hosts" in data and "allow_production" in data:
        why = refusal(
            host,
            allowed_hosts=data["allowed_hosts"],
            allowed_namespaces=namespaces,
            allow_production=data["allow_production"] or allowed_by_context(info),
        )
        if why is not None:
            raise ValueError(why)
    return url.rstrip("/")
