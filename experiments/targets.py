"""What a scenario runs against: the embedded reference stack, or endpoints the user already runs.

A target file (``--target FILE``) or the scenario's ``target:`` field says which. Either way the engine ends up
with one :class:`TargetEndpoints`: the URLs and names the load, the probes and the injectors act on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

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
from mlchaos.experiments.kubernetes.access import WORKLOAD_PATTERN, KubernetesEndpoints
from mlchaos.experiments.kubernetes.guard import production_words
from mlchaos.experiments.signals import Signals
from mlchaos.staging.declaration import DECLARATION
from mlchaos.staging.options import StackOptions


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
                allow_production=self.allow_production or _allowed_by_context(info),
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


def _allowed_by_context(info: ValidationInfo) -> bool:
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
            allow_production=data["allow_production"] or _allowed_by_context(info),
        )
        if why is not None:
            raise ValueError(why)
    return url.rstrip("/")


class EmbeddedTarget(StackOptions):
    """mlchaos starts the reference stack itself under supervisord and tears it down afterwards."""

    kind: Literal["embedded"] = "embedded"

    @property
    def declaration(self) -> ServiceDeclaration:
        return REFERENCE_DECLARATION


REFERENCE_DECLARATION = ServiceDeclaration.model_validate(DECLARATION)
"""The reference stack's declaration (:mod:`mlchaos.staging.declaration`), as embedded targets use it."""


UNIX_SOCKET_URL = "unix://"
"""A ``supervisor_url`` beginning so names a unix socket (``unix:///ABSOLUTE/PATH``): a local file, no host."""


class SupervisorAuth(BaseModel):
    """The credentials of a supervisord whose XML-RPC requires them (``username``/``password`` in its
    ``[inet_http_server]`` or ``[unix_http_server]``). The password itself is never in a target file, a plan or
    a journal — only where to read it when a fault needs it: an environment variable or a file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(min_length=1, description="supervisord's username.")
    password_env: str | None = Field(
        None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Environment variable holding the password."
    )
    password_file: str | None = Field(
        None, description="Absolute path of a file holding the password (one line; keep it 0600)."
    )

    @field_validator("password_file")
    @classmethod
    def _absolute(cls, path: str | None) -> str | None:
        if path is not None and not Path(path).expanduser().is_absolute():
            raise ValueError(f"an absolute path (e.g. /etc/mlchaos/supervisord.password), not {path!r}")
        return path

    @model_validator(mode="after")
    def _one_source(self) -> SupervisorAuth:
        if (self.password_env is None) == (self.password_file is None):
            raise ValueError("give the password's source: exactly one of password_env or password_file")
        return self

    def password(self) -> str:
        """The password, read now. Raises ValueError saying which source is missing."""
        if self.password_env is not None:
            value = os.environ.get(self.password_env)
            if not value:
                raise ValueError(f"supervisor_auth.password_env: ${self.password_env} is not set")
            return value
        assert self.password_file is not None
        try:
            return Path(self.password_file).expanduser().read_text(encoding="utf-8").strip("\r\n")
        except OSError as exc:
            raise ValueError(
                f"supervisor_auth.password_file: cannot read {self.password_file}: {exc}"
            ) from exc


class ExternalTarget(ServiceDeclaration):
    """A service the user already runs (``mlchaos staging up``, a team's staging service)."""

    kind: Literal["external"]
    service_url: str = Field(description="Base URL of the service under test.")
    toxiproxy_url: str | None = Field(None, description="Toxiproxy API, needed by network faults.")
    supervisor_url: str | None = Field(
        None,
        description="supervisord's XML-RPC, needed by pod_kill: http://HOST:PORT/RPC2, or unix:///PATH for its "
        "unix socket (what `mlchaos staging up` prints).",
    )
    supervisor_auth: SupervisorAuth | None = Field(
        None, description="supervisord's username, and where its password is read from, if it requires them."
    )
    proxies: dict[str, str] = Field(
        default_factory=dict, description="Dependency name -> toxiproxy proxy name, e.g. feature_store: fs."
    )
    programs: tuple[str, ...] = Field((), description="Supervised program names pod_kill may target.")

    @property
    def declaration(self) -> ServiceDeclaration:
        return self

    @field_validator("service_url", "toxiproxy_url")
    @classmethod
    def _allowed_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else allowed_url(value, info)

    @field_validator("supervisor_url")
    @classmethod
    def _supervisor_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A local unix socket needs no host rules (its file permissions say who may use it); a URL does."""
        if value is None or not value.startswith(UNIX_SOCKET_URL):
            return None if value is None else allowed_url(value, info)
        if not Path(value.removeprefix(UNIX_SOCKET_URL)).is_absolute():
            raise ValueError(
                f"unix:// and an absolute socket path (unix:///run/supervisord.sock), not {value!r}"
            )
        return value

    @field_validator("supervisor_auth")
    @classmethod
    def _auth_needs_url(cls, auth: SupervisorAuth | None, info: ValidationInfo) -> SupervisorAuth | None:
        if auth is not None and info.data.get("supervisor_url", "") is None:
            raise ValueError("supervisor_auth is for supervisor_url, which is not given")
        return auth


KubernetesObjectName = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)]


class KubernetesTarget(ServiceDeclaration):
    """A staging cluster: faults act on pods and workloads through the API server, network faults through a
    toxiproxy running in the cluster, and the load reaches the service through ``service_url``."""

    kind: Literal["kubernetes"]
    kubeconfig: str | None = Field(
        None, description="Kubeconfig file; default $KUBECONFIG or ~/.kube/config."
    )
    context: str | None = Field(None, description="Kubeconfig context; default its current context.")
    in_cluster: bool = Field(False, description="Use the pod's service account (mlchaos running as a Job).")
    cluster_name: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$",
        max_length=253,
        validate_default=True,
        description="The cluster's name, as its owners call it (e.g. gke_acme_europe-west1_staging-eu). "
        "Required with in_cluster, where no context names the cluster: the production guard reads it.",
    )
    allowed_namespaces: tuple[KubernetesObjectName, ...] = Field(
        min_length=1, description="The only namespaces mlchaos may touch; `namespace` must be one of them."
    )
    namespace: KubernetesObjectName = Field(description="Namespace the faults act in.")
    service_url: str = Field(
        description="Where the load and health probes reach the service: a port-forward on loopback, or the "
        "Service's cluster DNS name in-cluster."
    )
    toxiproxy_url: str | None = Field(
        None, description="Toxiproxy API in the cluster (its Service in-cluster, or a port-forward)."
    )
    proxies: dict[str, str] = Field(
        default_factory=dict, description="Dependency name -> toxiproxy proxy name, e.g. feature_store: fs."
    )
    workloads: tuple[Annotated[str, Field(pattern=WORKLOAD_PATTERN)], ...] = Field(
        (), description="deployment/NAME or statefulset/NAME whose readiness and restarts are sampled."
    )

    @property
    def declaration(self) -> ServiceDeclaration:
        return self

    @property
    def programs(self) -> tuple[str, ...]:
        """Always empty: no supervised programs in a cluster (``k8s_pod_kill`` deletes pods instead)."""
        return ()

    @field_validator("service_url", "toxiproxy_url")
    @classmethod
    def _allowed_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Loopback (a `kubectl port-forward`), a Service's cluster name in an allowed namespace (mlchaos in
        the cluster), or an allowed host (an ingress)."""
        namespaces = info.data.get("allowed_namespaces", ())
        return None if value is None else allowed_url(value, info, namespaces=namespaces)

    def cluster_namespaces(self) -> tuple[str, ...] | None:
        return self.allowed_namespaces

    @field_validator("cluster_name")
    @classmethod
    def _named_cluster(cls, name: str | None, info: ValidationInfo) -> str | None:
        """In the cluster only the declared name says which cluster it is, so the production rule is applied to
        it here, at its line, and again when connecting (:mod:`mlchaos.experiments.kubernetes.guard`)."""
        if name is None:
            if info.data.get("in_cluster"):
                raise ValueError(
                    "in_cluster needs cluster_name: in a pod no kubeconfig context says which cluster this is, "
                    "so the production guard has nothing to read — name the cluster (e.g. cluster_name: "
                    "staging-eu)"
                )
            return None
        words = production_words(name)
        if words and not (info.data.get("allow_production") or _allowed_by_context(info)):
            raise ValueError(
                f"cluster '{name}' looks like production ('{words[0]}' is a word of it); mlchaos refuses it "
                "unless the target sets `allow_production: true` or --allow-production is passed"
            )
        return name

    @field_validator("namespace")
    @classmethod
    def _allowed(cls, namespace: str, info: ValidationInfo) -> str:
        allowed = info.data.get("allowed_namespaces")
        if allowed is not None and namespace not in allowed:
            raise ValueError(
                f"namespace '{namespace}' is not in allowed_namespaces ({', '.join(allowed)}); "
                "mlchaos refuses to touch it — add it there to allow faults in it"
            )
        return namespace

    @model_validator(mode="after")
    def _one_way_in(self) -> KubernetesTarget:
        if self.in_cluster and (self.kubeconfig or self.context):
            raise ValueError("in_cluster uses the pod's service account: drop kubeconfig and context")
        return self


Target = Annotated[EmbeddedTarget | ExternalTarget | KubernetesTarget, Field(discriminator="kind")]


@dataclass(frozen=True)
class TargetEndpoints:
    """A reachable target, resolved: what the load, probes and injectors act on."""

    service_url: str
    predict_path: str = "/predict"
    toxiproxy_url: str | None = None
    supervisor_url: str | None = None
    supervisor_auth: SupervisorAuth | None = None
    """Where supervisord's credentials are read (never the password itself); None if it needs none."""
    proxies: dict[str, str] = field(default_factory=dict)
    programs: tuple[str, ...] = ()
    health: HealthPaths = field(default_factory=HealthPaths)
    response: ResponseFields = field(default_factory=ResponseFields)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    tiers: tuple[str, ...] = DEFAULT_TIERS
    signals: Signals = field(default_factory=Signals)
    request: RequestSchema = field(default_factory=RequestSchema)
    input_contract: InputContract = field(default_factory=InputContract)
    kubernetes: KubernetesEndpoints | None = None
    """Set for a Kubernetes target: the cluster, namespace and workloads its faults and probes act on."""


def declared_endpoints(declaration: ServiceDeclaration, **where: Any) -> TargetEndpoints:
    """A target's endpoints: ``where`` it is reached (URLs, proxies, programs, cluster) and what it declares."""
    return TargetEndpoints(
        predict_path=declaration.predict_path,
        health=declaration.health,
        response=declaration.response,
        headers={name: value.get_secret_value() for name, value in declaration.headers.items()},
        tiers=declaration.tiers,
        signals=declaration.signals,
        request=declaration.request,
        input_contract=declaration.input_contract,
        **where,
    )
