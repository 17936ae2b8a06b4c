"""Faults, one module each. :data:`INJECTORS` is the registry the scenario loader validates fault types against."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field

from mlchaos.injectors import (
    adversarial_samples,
    corrupted_inputs,
    distribution_shift,
    feature_store_outage,
    k8s_pod_kill,
    latency,
    metamorphic,
    pod_kill,
    scale_outage,
    traffic_spike,
)
from mlchaos.injectors.base import (
    FaultPlan,
    FaultSpec,
    Injector,
    InjectorError,
    InputContext,
    JournallingInjector,
    Prepared,
    PreparesInputs,
    Undo,
)

INJECTORS: dict[str, Injector[Any, Any]] = {
    module.INJECTOR.kind: module.INJECTOR
    for module in (
        feature_store_outage,
        latency,
        pod_kill,
        k8s_pod_kill,
        scale_outage,
        traffic_spike,
        corrupted_inputs,
        adversarial_samples,
        distribution_shift,
        metamorphic,
    )
}

if TYPE_CHECKING:
    AnyFault = FaultSpec
else:
    # Built from the registry, so a new fault module needs no second edit here.
    AnyFault = Annotated[Union[tuple(i.spec for i in INJECTORS.values())], Field(discriminator="type")]  # noqa: UP007
"""Any fault a scenario may declare, told apart by its ``type``."""

__all__ = [
    "INJECTORS",
    "AnyFault",
    "FaultPlan",
    "FaultSpec",
    "Injector",
    "InjectorError",
    "InputContext",
    "JournallingInjector",
    "Prepared",
    "PreparesInputs",
    "Undo",
]
