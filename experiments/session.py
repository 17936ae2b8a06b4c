"""Live targets for one ``mlchaos run`` invocation.

Embedded stacks are started on demand and shared by the scenarios of one invocation that ask for the same
configuration — starting one costs seconds, and the preflight makes each scenario wait until the stack is healthy
again, so sharing changes nothing a verifier sees. All stacks stop when the session closes, on every exit path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlchaos.experiments.errors import TargetUnusable
from mlchaos.experiments.journal import StackRecord
from mlchaos.experiments.kubernetes.access import ClusterAccess, KubernetesEndpoints, WorkloadRef
from mlchaos.experiments.kubernetes.client import cluster_identity, connect
from mlchaos.experiments.kubernetes.guard import refuse_production
from mlchaos.experiments.targets import (
    EmbeddedTarget,
    ExternalTarget,
    KubernetesTarget,
    TargetEndpoints,
    declared_endpoints,
)
from mlchaos.staging.options import StackOptions
from mlchaos.staging.stack import EmbeddedStack, StackError


class StackUnusable(TargetUnusable):
    """The embedded stack did not start; the message says what each program was doing, with the culprit's log."""


def external_endpoints(target: ExternalTarget) -> TargetEndpoints:
    return declared_endpoints(
        target,
        service_url=target.service_url,
        toxiproxy_url=target.toxiproxy_url,
        supervisor_url=target.supervisor_url,
        supervisor_auth=target.supervisor_auth,
        proxies=dict(target.proxies),
        programs=target.programs,
    )


def kubernetes_endpoints(target: KubernetesTarget) -> TargetEndpoints:
    """The cluster the target names, after the production guard — which reads only the kubeconfig (in the
    cluster: the declared ``cluster_name``), so a refused cluster is never contacted; then what the cluster says
    it is, to be journalled. Raises KubernetesError (no such kubeconfig or context) or guard.Refused."""
    kubeconfig = None if target.kubeconfig is None else str(Path(target.kubeconfig).expanduser().resolve())
    access = ClusterAccess(kubeconfig=kubeconfig, context=target.context, in_cluster=target.in_cluster)
    cluster = connect(access)
    refuse_production(
        context=cluster.context,
        server=cluster.server,
        namespaces=(target.namespace, *target.allowed_namespaces),
        allowed=target.allow_production,
        cluster_name=target.cluster_name,
    )
    return declared_endpoints(
        target,
        service_url=target.service_url,
        toxiproxy_url=target.toxiproxy_url,
        proxies=dict(target.proxies),
        kubernetes=KubernetesEndpoints(
            access=access,
            namespace=target.namespace,
            allowed_namespaces=target.allowed_namespaces,
            context=cluster.context,
            server=cluster.server,
            workloads=tuple(WorkloadRef.parse(w, target.namespace) for w in target.workloads),
            cluster_name=target.cluster_name,
            identity=cluster_identity(cluster),
        ),
    )


class TargetSession:
    def __init__(self, *, note: Callable[[str], None] = lambda _: None) -> None:
        self._stacks: dict[StackOptions, tuple[EmbeddedStack, TargetEndpoints, StackRecord]] = {}
        self._note = note

    def acquire(
        self,
        target: EmbeddedTarget | ExternalTarget | KubernetesTarget,
        *,
        on_stack: Callable[[StackRecord], None] = lambda _: None,
    ) -> TargetEndpoints:
        """The target's endpoints, starting an embedded stack if needed.

        ``on_stack`` gets the record of the embedded stack the caller will use: for a new stack as soon as its
        supervisord runs — before the stack is ready — so the caller can journal it and ``mlchaos rollback`` can
        stop a stack whose start-up was killed; for a shared stack at once.
        """
        if isinstance(target, ExternalTarget):
            return external_endpoints(target)
        if isinstance(target, KubernetesTarget):
            return kubernetes_endpoints(target)
        options = StackOptions.model_validate(target.model_dump(exclude={"kind"}))
        if options in self._stacks:
            _, endpoints, record = self._stacks[options]
            on_stack(record)
            return endpoints
        flags = f" with flags {', '.join(options.flags)}" if options.flags else ""
        self._note(f"starting the embedded stack{flags} …")
        records: list[StackRecord] = []

        def spawned(url: str, pid: int, workdir: Path) -> None:
            records.append(StackRecord(supervisor_url=url, supervisord_pid=pid, workdir=str(workdir)))
            on_stack(records[0])

        stack = EmbeddedStack(options)
        try:
            running = stack.start(on_spawned=spawned)
        except StackError as exc:  # staging imports nothing of the harness: its error becomes the harness's
            raise StackUnusable(str(exc)) from exc
        endpoints = declared_endpoints(
            target.declaration,
            service_url=running.gateway_url,
            toxiproxy_url=running.toxiproxy_url,
            supervisor_url=running.supervisor_url,
            proxies=dict(running.proxies),
            programs=running.programs,
        )
        self._stacks[options] = (stack, endpoints, records[0])
        self._note(f"embedded stack ready: gateway {running.gateway_url}")
        return endpoints

    def close(self) -> None:
        while self._stacks:
            _, (stack, _, record) = self._stacks.popitem()
            stack.stop()
            self._note(f"embedded stack stopped ({Path(record.workdir).name} removed)")
