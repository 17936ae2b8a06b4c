"""What the Kubernetes faults share: the cluster a target points at, the namespace allowlist, and the translation of
:mod:`mlchaos.experiments.kubernetes` errors into :class:`TargetUnreachable` / :class:`TargetMisconfigured`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mlchaos.experiments.kubernetes.access import KubernetesEndpoints
from mlchaos.experiments.kubernetes.client import ClusterUnreachable, KubernetesError, ObjectMissing
from mlchaos.experiments.kubernetes.guard import Refused, refuse_outside_allowlist
from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.injectors.base import InjectorError, TargetMisconfigured, TargetUnreachable


def cluster_of(
    target: TargetEndpoints, fault_id: str, namespace: str | None
) -> tuple[KubernetesEndpoints, str]:
    """The target's cluster and the namespace the fault acts in (its own, else the target's), allowlist-checked."""
    if target.kubernetes is None:
        raise TargetMisconfigured(
            f"fault '{fault_id}' acts on a Kubernetes cluster, and this target is not one "
            "(use `target: {kind: kubernetes, ...}`)"
        )
    chosen = namespace or target.kubernetes.namespace
    try:
        refuse_outside_allowlist(chosen, target.kubernetes.allowed_namespaces, where=f"fault '{fault_id}'")
    except Refused as exc:
        raise TargetMisconfigured(str(exc)) from exc
    return target.kubernetes, chosen


@contextmanager
def kube_errors() -> Iterator[None]:
    try:
        yield
    except ClusterUnreachable as exc:
        raise TargetUnreachable(str(exc)) from exc
    except ObjectMissing as exc:
        raise TargetMisconfigured(str(exc)) from exc
    except KubernetesError as exc:
        raise InjectorError(str(exc)) from exc
