"""``latency``: slow every byte through a dependency's toxiproxy proxy (latency + jitter).

The dependency still answers — just late. A gateway with a sane timeout should fall back instead of waiting.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.injectors.backends.toxiproxy import TOXIC_PREFIX, ToxicUndo, ToxiproxyClient, require_pristine
from mlchaos.injectors.base import FaultPlan, FaultSpec, proxy_for


class LatencyFault(FaultSpec):
    type: Literal["latency"]
    dependency: str = Field(
        description="Dependency whose proxy gets the toxic, e.g. feature_store, primary_model."
    )
    latency_ms: int = Field(ge=1, description="Added delay per chunk of data.")
    jitter_ms: int = Field(0, ge=0, description="Random +/- variation of the delay.")
    stream: Literal["downstream", "upstream"] = "downstream"


class LatencyUndo(ToxicUndo):
    """The proxy and the toxic's name (the run's own: see :meth:`ToxicUndo.for_run`)."""


class LatencyInjector:
    spec = LatencyFault
    undo = LatencyUndo

    def plan(self, spec: LatencyFault, target: TargetEndpoints) -> FaultPlan[LatencyUndo]:
        url, proxy = proxy_for(target, spec.dependency, spec.id)
        jitter = f" ± {spec.jitter_ms} ms" if spec.jitter_ms else ""
        return FaultPlan(
            touches=(f"toxiproxy proxy '{proxy}' at {url}",),
            description=f"add {spec.latency_ms} ms{jitter} latency ({spec.stream}) to '{spec.dependency}'",
            undo=LatencyUndo(toxiproxy_url=url, proxy=proxy, toxic=f"{TOXIC_PREFIX}{spec.id}"),
        )

    def check(self, undo: LatencyUndo) -> None:
        require_pristine(ToxiproxyClient(undo.toxiproxy_url), undo.proxy)

    def inject(self, spec: LatencyFault, undo: LatencyUndo) -> None:
        ToxiproxyClient(undo.toxiproxy_url).add_toxic(
            undo.proxy,
            undo.toxic,
            "latency",
            {"latency": spec.latency_ms, "jitter": spec.jitter_ms},
            stream=spec.stream,
        )

    def revert(self, undo: LatencyUndo) -> None:
        ToxiproxyClient(undo.toxiproxy_url).remove_toxic(undo.proxy, undo.toxic)


INJECTOR = LatencyInjector()
