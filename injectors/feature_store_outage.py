"""``feature_store_outage``: the feature store goes away, in one of three ways a real outage looks like.

- ``down``: the proxy is disabled — new connections are refused and open ones are dropped (the host is gone).
- ``blackhole``: a ``timeout`` toxic with timeout 0 — connections stay open but no byte comes back (a hung
  store, a dead network path): only a client-side timeout saves the caller.
- ``reset``: a ``reset_peer`` toxic — connections are reset as soon as data flows (a crashing store).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.injectors.backends.toxiproxy import TOXIC_PREFIX, ToxicUndo, ToxiproxyClient, require_pristine
from mlchaos.injectors.base import FaultPlan, FaultSpec, proxy_for

Mode = Literal["down", "blackhole", "reset"]

_TOXIC_OF_MODE = {"blackhole": "timeout", "reset": "reset_peer"}
_WHAT_MODE_DOES = {
    "down": "disable the proxy (connections refused)",
    "blackhole": "swallow all traffic (timeout toxic, no reply ever)",
    "reset": "reset every connection (reset_peer toxic)",
}


class FeatureStoreOutage(FaultSpec):
    type: Literal["feature_store_outage"]
    mode: Mode = "down"
    dependency: str = Field("feature_store", description="The dependency that plays the feature store.")


class FeatureStoreUndo(ToxicUndo):
    """The proxy, the mode, and the toxic's name (the run's own: see :meth:`ToxicUndo.for_run`); ``down``
    adds no toxic, it disables the proxy."""

    mode: Mode


class FeatureStoreOutageInjector:
    spec = FeatureStoreOutage
    undo = FeatureStoreUndo

    def plan(self, spec: FeatureStoreOutage, target: TargetEndpoints) -> FaultPlan[FeatureStoreUndo]:
        url, proxy = proxy_for(target, spec.dependency, spec.id)
        return FaultPlan(
            touches=(f"toxiproxy proxy '{proxy}' at {url}",),
            description=f"feature store '{spec.dependency}' {spec.mode}: {_WHAT_MODE_DOES[spec.mode]}",
            undo=FeatureStoreUndo(
                toxiproxy_url=url, proxy=proxy, mode=spec.mode, toxic=f"{TOXIC_PREFIX}{spec.id}"
            ),
        )

    def check(self, undo: FeatureStoreUndo) -> None:
        require_pristine(ToxiproxyClient(undo.toxiproxy_url), undo.proxy)

    def inject(self, spec: FeatureStoreOutage, undo: FeatureStoreUndo) -> None:
        client = ToxiproxyClient(undo.toxiproxy_url)
        if undo.mode == "down":
            client.set_enabled(undo.proxy, False)
        else:
            client.add_toxic(undo.proxy, undo.toxic, _TOXIC_OF_MODE[undo.mode], {"timeout": 0})

    def revert(self, undo: FeatureStoreUndo) -> None:
        client = ToxiproxyClient(undo.toxiproxy_url)
        if undo.mode == "down":
            # A proxy is enabled in steady state (preflight checks it), so "undo" is "enable" — and enabling an
            # enabled proxy is harmless, which keeps revert idempotent.
            client.set_enabled(undo.proxy, True)
        else:
            client.remove_toxic(undo.proxy, undo.toxic)


INJECTOR = FeatureStoreOutageInjector()
