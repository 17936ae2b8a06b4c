"""The one place mlchaos builds a Kubernetes API client, and the error vocabulary its callers see.

Error tree::

    KubernetesError               a Kubernetes call failed; the message says which call, on what, and why
    ├── ClusterUnreachable        no kubeconfig / context, or the API server did not answer in time
    └── ObjectMissing             the API server answered 404: the workload or namespace does not exist
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from mlchaos.experiments.errors import TargetUnusable
from mlchaos.experiments.kubernetes.access import ClusterAccess

REQUEST_TIMEOUT_S = 10.0
"""Every call gets this timeout: a stalled API server must fail a probe or a fault, never hang the run."""

T = TypeVar("T")


class KubernetesError(TargetUnusable):
    """A Kubernetes call failed; the message says which call, on what, and why."""


class ClusterUnreachable(KubernetesError):
    """No usable kubeconfig or context, or the API server did not answer."""


class ObjectMissing(KubernetesError):
    """The API server answered 404."""


@dataclass(frozen=True)
class Cluster:
    """An API client plus where it points, for messages and for the production guard."""

    api: k8s.ApiClient
    context: str
    server: str

    @property
    def core(self) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(self.api)

    @property
    def apps(self) -> k8s.AppsV1Api:
        return k8s.AppsV1Api(self.api)


@functools.lru_cache(maxsize=8)
def connect(access: ClusterAccess) -> Cluster:
    """A client for ``access`` (cached: probes and faults of one run share its connection pool)."""
    configuration = k8s.Configuration()
    try:
        if access.in_cluster:
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            return Cluster(k8s.ApiClient(configuration), "in-cluster", configuration.host)
        contexts, current = k8s_config.list_kube_config_contexts(config_file=access.kubeconfig)  # type: ignore[no-untyped-call]
        name = access.context or (current or {}).get("name")
        if name not in {c["name"] for c in contexts}:
            known = ", ".join(sorted(c["name"] for c in contexts)) or "none"
            raise ClusterUnreachable(f"no context '{name}' in {_kubeconfig(access)} (it has: {known})")
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=access.kubeconfig, context=name, client_configuration=configuration
        )
    except ConfigException as exc:
        raise ClusterUnreachable(f"cannot use {access.describe()}: {exc}") from exc
    return Cluster(k8s.ApiClient(configuration), str(name), configuration.host)


def cluster_identity(cluster: Cluster) -> str:
    """What this cluster says it is: the UID of its ``kube-system`` namespace — created with the cluster, never
    shared with another — when this identity may read it, else the API server's address. Recorded, not trusted
    for the guard (see :mod:`~mlchaos.experiments.kubernetes.guard`); never fails a run: it is read once and
    only a bounded call."""
    try:
        found = call("read namespace kube-system", cluster.core.read_namespace, "kube-system")
        uid = found.metadata.uid if found.metadata else None
    except KubernetesError:  # typically 403: the chart's Role grants nothing cluster-wide
        uid = None
    return f"kube-system uid {uid} at {cluster.server}" if uid else f"API server {cluster.server}"


def _kubeconfig(access: ClusterAccess) -> str:
    return access.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Map the client's exceptions to :class:`KubernetesError` naming ``what`` was being done."""
    try:
        yield
    except k8s.ApiException as exc:
        reason = _api_reason(exc)
        if exc.status == 404:
            raise ObjectMissing(f"{what}: not found ({reason})") from exc
        raise KubernetesError(f"{what}: HTTP {exc.status} {reason}") from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise ClusterUnreachable(
            f"{what}: the API server did not answer ({type(exc).__name__}: {exc})"
        ) from exc


def _api_reason(exc: k8s.ApiException) -> str:
    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        return str(exc.reason)
    return str(body.get("message") or exc.reason)


def call(what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` with the standard timeout, its errors translated."""
    with translated(what):
        return function(*args, _request_timeout=REQUEST_TIMEOUT_S, **kwargs)
