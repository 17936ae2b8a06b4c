"""How mlchaos reaches a cluster, and the names it acts on there — plain models, no client.

These cross into the journal (every Kubernetes fault's undo carries a :class:`ClusterAccess`), so ``mlchaos
rollback`` reconnects to the same cluster, context and namespace after a crash.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

WORKLOAD_PATTERN = r"^(deployment|statefulset)/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
"""``deployment/NAME`` or ``statefulset/NAME``, NAME a Kubernetes object name."""


class WorkloadKind(enum.StrEnum):
    DEPLOYMENT = "deployment"
    STATEFULSET = "statefulset"


class ClusterAccess(BaseModel):
    """Which cluster and identity: a kubeconfig (``None``: ``$KUBECONFIG`` or ``~/.kube/config``) and context
    (``None``: its current context), or the pod's own service account when ``in_cluster``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False

    def describe(self) -> str:
        if self.in_cluster:
            return "in-cluster service account"
        where = self.kubeconfig or "the default kubeconfig"
        return f"context '{self.context}' of {where}" if self.context else f"current context of {where}"


class WorkloadRef(BaseModel):
    """A Deployment or StatefulSet in a namespace."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: WorkloadKind
    name: str
    namespace: str

    @classmethod
    def parse(cls, text: str, namespace: str) -> WorkloadRef:
        kind, _, name = text.partition("/")
        return cls(kind=WorkloadKind(kind), name=name, namespace=namespace)

    @property
    def short(self) -> str:
        return f"{self.kind.value}/{self.name}"

    def __str__(self) -> str:
        return f"{self.short} in namespace {self.namespace}"


class PodRef(BaseModel):
    """One pod, pinned by UID: a replacement pod with the same name (StatefulSet) is a different pod."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    uid: str

    def __str__(self) -> str:
        return f"pod {self.name} (uid {self.uid})"


@dataclass(frozen=True)
class KubernetesEndpoints:
    """The Kubernetes side of a resolved target: the faults and the readiness probes act on this."""

    access: ClusterAccess
    namespace: str
    allowed_namespaces: tuple[str, ...]
    context: str
    """The context name actually used (``in-cluster`` for in-cluster config)."""
    server: str
    workloads: tuple[WorkloadRef, ...] = ()
    """Workloads whose readiness and restarts are sampled during the run."""
    cluster_name: str | None = None
    """The target's declared name of the cluster (required in the cluster, where the context says nothing)."""
    identity: str = ""
    """What the cluster says it is, read when connecting (see
    :func:`~mlchaos.experiments.kubernetes.client.cluster_identity`); journalled with ``run_started``."""
