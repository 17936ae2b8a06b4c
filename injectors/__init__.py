"""Faults, one module each. The registry the scenario loader validates fault types against is built from them.

Every module here that defines ``INJECTOR`` (see :mod:`mlchaos.injectors.base`) is a fault kind, named by its
spec's ``type`` literal; other packages add kinds through the ``mlchaos.faults`` entry point group
(:mod:`mlchaos.experiments.registry`). :data:`INJECTORS` maps each kind to its injector; :func:`fault_kinds`
also says where each comes from.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field

from mlchaos.experiments.registry import FAULTS_GROUP, Registered, build_registry
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

_KINDS: Mapping[str, Registered[FaultSpec, Injector[Any, Any]]] = build_registry(
    sys.modules[__name__],
    "INJECTOR",
    FAULTS_GROUP,
    spec_base=FaultSpec,
    requires=("spec", "undo", "plan", "check", "inject", "revert"),
)


def fault_kinds() -> Mapping[str, Registered[FaultSpec, Injector[Any, Any]]]:
    """Every fault kind a scenario may declare, by name (sorted): its spec model (``.spec``), its injector
    (``.implementation``), the module defining it and the package that registered it (``None``: mlchaos)."""
    return _KINDS


INJECTORS: Mapping[str, Injector[Any, Any]] = {name: kind.implementation for name, kind in _KINDS.items()}
"""Fault kind → its injector."""

if TYPE_CHECKING:
    AnyFault = FaultSpec
else:
    # Built from the registry, so a new fault module (or package) needs no second edit here.
    AnyFault = Annotated[Union[tuple(kind.spec for kind in _KINDS.values())], Field(discriminator="type")]  # noqa: UP007
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
    "fault_kinds",
]
