"""Faults, one module each. The registry the scenario loader validates fault types against is built from them.

Every module here that defines ``INJECTOR`` (see :mod:`mlchaos.injectors.base`) is a fault kind, named by its
spec's ``type`` literal; other packages add kinds through the ``mlchaos.faults`` entry point group
(:mod:`mlchaos.experiments.registry`). :data:`INJECTORS` maps each kind to its injector; :func:`fault_kinds`
also says where each comes from; :func:`input_kinds` lists what the input faults send (their ``sends``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field

from mlchaos.experiments.inputs.send import Send
from mlchaos.experiments.registry import FAULTS_GROUP, PluginError, Registered, build_registry, kind_of
from mlchaos.injectors.base import (
    FaultPlan,
    FaultSpec,
    Injector,
    InjectorError,
    InputContext,
    JournallingInjector,
    OnPreparedRequests,
    OnRequests,
    OnTarget,
    OnTraffic,
    Prepared,
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


def _input_kinds() -> Mapping[str, type[Send]]:
    """What the input faults send, by kind: each injector's ``sends``, a kind owned by one fault only."""
    found: dict[str, tuple[type[Send], str]] = {}
    for fault, registered in _KINDS.items():
        owner = f"fault '{fault}' ({registered.distribution or 'mlchaos'}, {registered.module})"
        for model in getattr(registered.implementation, "sends", ()):
            if not (isinstance(model, type) and issubclass(model, Send)):
                raise PluginError(f"{owner}: `sends` must list Send subclasses, found {model!r}")
            kind = kind_of(model, "kind")
            taken = found.get(kind)
            if taken is not None and taken[0] is not model:
                raise PluginError(f"{owner}: the input kind '{kind}' is already sent by {taken[1]}")
            found[kind] = (model, owner)
    return MappingProxyType({kind: model for kind, (model, _) in sorted(found.items())})


_INPUT_KINDS = _input_kinds()


def input_kinds() -> Mapping[str, type[Send]]:
    """Every kind of input the input faults send, by its ``kind`` literal: how a load spec's input windows are
    read back (:mod:`mlchaos.experiments.inputs.kinds`)."""
    return _INPUT_KINDS


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
    "OnPreparedRequests",
    "OnRequests",
    "OnTarget",
    "OnTraffic",
    "Prepared",
    "Undo",
    "fault_kinds",
    "input_kinds",
]
