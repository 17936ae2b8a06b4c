"""How a run is controlled from outside the engine: the stop request signal handlers set, the display it reports
to, the exception that ends it early, and what it locks on its target."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from mlchaos.experiments import runlock
from mlchaos.experiments.errors import RunStopped
from mlchaos.experiments.live import Snapshot
from mlchaos.experiments.plan import Plan
from mlchaos.experiments.targets import TargetEndpoints


class Aborted(RunStopped):
    """The run stops early; the message says why. Rollback still runs."""


@dataclass
class StopRequest:
    """Set from signal handlers; polled by the engine. A second request skips waiting, never the revert."""

    reason: str | None = None
    count: int = 0
    event: threading.Event = field(default_factory=threading.Event)

    def request(self, reason: str) -> None:
        self.count += 1
        self.reason = self.reason or reason
        self.event.set()

    @property
    def hurry(self) -> bool:
        return self.count >= 2


class RunDisplay(Protocol):
    """What the engine tells the person watching (the CLI renders it with rich; tests may pass a recorder)."""

    def started(self, plan: Plan, run_dir: Path) -> None: ...
    def phase(self, phase: str, offset: float) -> None: ...
    def note(self, message: str) -> None: ...
    # elapsed: seconds since the baseline's start, as plan offsets (negative in a warm-up)
    def tick(self, elapsed: float, snapshot: Snapshot) -> None: ...
    def finished(self) -> None: ...


def cluster_of(plan: Plan) -> str | None:
    """Which cluster a Kubernetes target's run acts on, for its journal: declared name and observed identity."""
    kube = plan.target.kubernetes
    if kube is None:
        return None
    named = f"cluster '{kube.cluster_name}', " if kube.cluster_name else ""
    return f"{named}context {kube.context}, {kube.identity or kube.server}"


def lock_endpoints(target: TargetEndpoints) -> list[runlock.Endpoint]:
    """What a run acts on, and so locks: the service, the fault backends it names, and for Kubernetes each
    workload of its namespace (the namespace when it names none). ``runlock`` locks them by canonical key."""
    urls = [url for url in (target.service_url, target.toxiproxy_url, target.supervisor_url) if url]
    cluster = target.kubernetes
    if cluster is None:
        return list(urls)
    scopes = [runlock.ClusterScope(cluster.server, w.namespace, w.short) for w in cluster.workloads]
    return [*urls, *(scopes or [runlock.ClusterScope(cluster.server, cluster.namespace)])]
