"""What a scenario runs against: the embedded reference stack, or endpoints the user already runs.

A target file (``--target FILE``) or the scenario's ``target:`` field says which. Either way the engine ends up
with one :class:`TargetEndpoints`: the URLs and names the load, the probes and the injectors act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mlchaos.experiments.kubernetes.access import WORKLOAD_PATTERN, KubernetesEndpoints
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


def _loopback_or_cluster_service(url: str) -> str:
    """Loopback (a port-forward from a laptop), or a Service's cluster DNS name (mlchaos running in-cluster)."""
    host = urlsplit(url).hostname or ""
    if host.endswith((".svc", ".svc.cluster.local")):
        return url.rstrip("/")
    try:
        return _loopback_only(url)
    except ValueError:
        raise ValueError(
            f"{url!r} is neither on loopback (e.g. a `kubectl port-forward`) nor a cluster Service name "
            "(NAME.NAMESPACE.svc[.cluster.local], when mlchaos runs in the cluster)"
        ) from None


KubernetesObjectName = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)]


class KubernetesTarget(BaseModel):
    """A staging cluster: faults act on pods and workloads through the API server, network faults through a
    toxiproxy running in the cluster, and the load reaches the service through ``service_url``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["kubernetes"]
    kubeconfig: str | None = Field(
        None, description="Kubeconfig file; default $KUBECONFIG or ~/.kube/config."
    )
    context: str | None = Field(None, description="Kubeconfig context; default its current context.")
    in_cluster: bool = Field(False, description="Use the pod's service account (mlchaos running as a Job).")
    allowed_namespaces: tuple[KubernetesObjectName, ...] = Field(
        min_length=1, description="The only namespaces mlchaos may touch; `namespace` must be one of them."
    )
    namespace: KubernetesObjectName = Field(description="Namespace the faults act in.")
    allow_production: bool = Field(
        False, description="Run even though the context, API server or namespace looks like production."
    )
    service_url: str = Field(
        description="Where the load and health probes reach the service: a port-forward on loopback, or the "
        "Service's cluster DNS name in-cluster."
    )
    predict_path: str = "/predict"
    toxiproxy_url: str | None = Field(
        None, description="Toxiproxy API in the cluster (its Service in-cluster, or a port-forward)."
    )
    proxies: dict[str, str] = Field(
        default_factory=dict, description="Dependency name -> toxiproxy proxy name, e.g. feature_store: fs."
    )
    workloads: tuple[Annotated[str, Field(pattern=WORKLOAD_PATTERN)], ...] = Field(
        (), description="deployment/NAME or statefulset/NAME whose readiness and restarts are sampled."
    )
    health: HealthPaths = HealthPaths()
    response: ResponseFields = ResponseFields()
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="Sent with every request; values are redacted everywhere."
    )

    @property
    def programs(self) -> tuple[str, ...]:
        """Always empty: no supervised programs in a cluster (``k8s_pod_kill`` deletes pods instead)."""
        return ()

    @field_validator("service_url", "toxiproxy_url")
    @classmethod
    def _reachable(cls, value: str | None) -> str | None:
        return None if value is None else _loopback_or_cluster_service(value)

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
    proxies: dict[str, str] = field(default_factory=dict)
    programs: tuple[str, ...] = ()
    health: HealthPaths = field(default_factory=HealthPaths)
    response: ResponseFields = field(default_factory=ResponseFields)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    kubernetes: KubernetesEndpoints | None = None
    """Set for a Kubernetes target: the cluster, namespace and workloads its faults and probes act on."""
