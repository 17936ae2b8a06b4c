"""What a scenario runs against: the embedded reference stack, or endpoints the user already runs.

A target file (``--target FILE``) or the scenario's ``target:`` field says which. Either way the engine ends up
with one :class:`TargetEndpoints`: the URLs and names the load, the probes and the injectors act on. What a target
declares of its service (paths, answers, tiers, signals, hosts) is :mod:`mlchaos.experiments.service_declaration`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from mlchaos.experiments.inputs.contract import InputContract
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.kubernetes.access import WORKLOAD_PATTERN, KubernetesEndpoints
from mlchaos.experiments.kubernetes.guard import production_words

# The declaration a target makes of its service, re-exported: these names are imported from here everywhere.
from mlchaos.experiments.service_declaration import ALLOW_PRODUCTION as ALLOW_PRODUCTION
from mlchaos.experiments.service_declaration import DEFAULT_TIERS as DEFAULT_TIERS
from mlchaos.experiments.service_declaration import HealthPaths as HealthPaths
from mlchaos.experiments.service_declaration import HostEntry as HostEntry
from mlchaos.experiments.service_declaration import ResponseFields as ResponseFields
from mlchaos.experiments.service_declaration import ServiceDeclaration as ServiceDeclaration
from mlchaos.experiments.service_declaration import TierName as TierName
from mlchaos.experiments.service_declaration import allowed_by_context, allowed_url
from mlchaos.experiments.signals import Signals
from mlchaos.staging.declaration import DECLARATION
from mlchaos.staging.options import StackOptions


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
        if words and not (info.data.get("allow_production") or allowed_by_context(info)):
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


def ladder_of(target: EmbeddedTarget | ExternalTarget | KubernetesTarget) -> tuple[str, ...]:
    """The tier ladder a target declares, best first."""
    return target.declaration.tiers
