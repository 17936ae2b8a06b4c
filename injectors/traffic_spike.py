"""``traffic_spike``: multiply the load for a window — the surge a launch, a retry storm or a bot brings.

Unlike the other faults this one acts on the traffic, not on the target: the engine programs the spike into the
Locust load shape before the load starts (users × ``multiplier`` from ``at`` to ``at + duration``), so it takes
effect on time without the orchestrator reaching into the load process. ``inject`` and ``revert`` therefore
change nothing on the target; the journal still records when the spike began and ended, which is what the
verifiers need. A run killed mid-spike leaves nothing to undo: its load process stops with it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.injectors.base import FaultPlan, FaultSpec, OnTraffic, Undo


class TrafficSpike(FaultSpec):
    type: Literal["traffic_spike"]
    multiplier: float = Field(gt=1, le=50, description="Users during the spike = normal users × multiplier.")


class TrafficSpikeUndo(Undo):
    service_url: str
    multiplier: float


class TrafficSpikeInjector:
    spec = TrafficSpike
    undo = TrafficSpikeUndo

    def plan(self, spec: TrafficSpike, target: TargetEndpoints) -> FaultPlan[TrafficSpikeUndo]:
        return FaultPlan(
            touches=(f"the load sent to {target.service_url} (Locust users × {spec.multiplier:g})",),
            description=f"multiply the load by {spec.multiplier:g} for {spec.duration:g}s",
            undo=TrafficSpikeUndo(service_url=target.service_url, multiplier=spec.multiplier),
            acts_on=OnTraffic(multiplier=spec.multiplier),
        )

    def check(self, undo: TrafficSpikeUndo) -> None:
        """Nothing to check on the target: the load generator is the harness's own."""

    def inject(self, spec: TrafficSpike, undo: TrafficSpikeUndo) -> None:
        """The spike is already programmed into the load shape; the journal entry marks its start."""

    def revert(self, undo: TrafficSpikeUndo) -> None:
        """The load shape drops back by itself; there is nothing on the target to undo."""


INJECTOR = TrafficSpikeInjector()
