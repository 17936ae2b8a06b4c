"""The registries of fault kinds and verifier kinds, both built here the same way; each kind's name written once.

A kind is one module-level object whose ``spec`` is the pydantic model a scenario declares it with. That
model's ``type: Literal["<name>"]`` is the kind's name, and nothing else spells it: the registry key, the
scenario loader's discriminated union, the journal's fault kind and a verdict's ``verifier`` all read it from
there. Where kinds come from:

- mlchaos's own: every module of a package that defines the object (``INJECTOR`` in :mod:`mlchaos.injectors`,
  ``VERIFIER`` in :mod:`mlchaos.experiments.verifiers`), found by walking the package — a new kind is a new
  module, and no list names it;
- any installed package's: an entry point in the group ``mlchaos.faults`` or ``mlchaos.verifiers`` whose name is
  the kind's name and whose value is the object, e.g. in that package's ``pyproject.toml``::

      [project.entry-points."mlchaos.faults"]
      slow_disk = "acme_chaos.slow_disk:INJECTOR"

Entry points are read once, when the registry is built (on importing the package that holds it, before any
scenario is read): a package installed later is seen by the next ``mlchaos`` command. A package whose entry
point cannot be loaded, or whose kind is malformed or already taken, stops mlchaos with a
:class:`PluginError` naming the package and what to fix — never a silently missing kind, which a scenario would
then report as unknown.
"""

from __future__ import annotations

import importlib
import pkgutil
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType, ModuleType
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel

from mlchaos.experiments.errors import InvalidInput

FAULTS_GROUP = "mlchaos.faults"
"""The entry point group other packages register fault kinds in (value: an injector, like ``INJECTOR``)."""
VERIFIERS_GROUP = "mlchaos.verifiers"
"""The entry point group other packages register verifier kinds in (value: a ``Verifier``, like ``VERIFIER``)."""

SpecT = TypeVar("SpecT", bound=BaseModel, covariant=True)
ImplT = TypeVar("ImplT", covariant=True)


class PluginError(InvalidInput):
    """A kind cannot be registered: its entry point does not load, its spec names no kind, or the name is taken."""


@dataclass(frozen=True)
class Registered(Generic[SpecT, ImplT]):
    """One kind in a registry: its scenario model and what implements it, and where both come from."""

    spec: type[SpecT]
    """The model a scenario declares the kind with; its ``type`` literal is the kind's name."""
    implementation: ImplT
    """The injector (faults) or the :class:`~mlchaos.experiments.verifiers.base.Verifier` (verifiers)."""
    module: str
    """The module that defines the implementation; its docstring documents the kind."""
    distribution: str | None
    """The installed package that registered it through an entry point; ``None`` for mlchaos's own."""


def kind_of(spec: type[BaseModel], field_name: str = "type") -> str:
    """The kind's name: the one value of its model's ``type: Literal["<name>"]`` (an input kind's: ``kind``)."""
    field = spec.model_fields.get(field_name)
    values = typing.get_args(field.annotation) if field is not None else ()
    if field is None or typing.get_origin(field.annotation) is not Literal or len(values) != 1:
        raise PluginError(
            f'{spec.__module__}.{spec.__qualname__}: expected a field `{field_name}: Literal["<name>"]` with '
            "one name, the kind's name"
        )
    name = values[0]
    if not isinstance(name, str) or not name:
        raise PluginError(
            f"{spec.__module__}.{spec.__qualname__}: the `{field_name}` literal must be a non-empty string"
        )
    return name


def build_registry(
    package: ModuleType, attribute: str, group: str, *, spec_base: type[BaseModel], requires: tuple[str, ...]
) -> Mapping[str, Registered[Any, Any]]:
    """Every kind of ``package``'s modules that define ``attribute``, then of the entry points in ``group``,
    by name. Each implementation's ``spec`` must subclass ``spec_base`` and it must have the attributes
    ``requires`` (for a clear error at start-up, not a crash mid-run)."""
    found: dict[str, Registered[Any, Any]] = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        implementation = getattr(module, attribute, None)
        if implementation is not None:
            _add(found, implementation, module.__name__, None, spec_base, requires)
    for entry in entry_points(group=group):
        _add_entry_point(found, entry, group, spec_base, requires)
    return MappingProxyType(dict(sorted(found.items())))


def _add_entry_point(
    found: dict[str, Registered[Any, Any]],
    entry: EntryPoint,
    group: str,
    spec_base: type[BaseModel],
    requires: tuple[str, ...],
) -> None:
    distribution = entry.dist.name if entry.dist is not None else "an unnamed package"
    where = f"entry point '{entry.name} = {entry.value}' of {distribution} (group {group})"
    try:
        implementation = entry.load()
    except Exception as exc:  # any import-time failure of someone else's package: say whose it is
        raise PluginError(f"{where} could not be loaded: {type(exc).__name__}: {exc}") from exc
    name = _add(found, implementation, entry.module, distribution, spec_base, requires, where=where)
    if name != entry.name:
        raise PluginError(f"{where}: the entry point's name must be the kind's name, '{name}'")


def _add(
    found: dict[str, Registered[Any, Any]],
    implementation: Any,
    module: str,
    distribution: str | None,
    spec_base: type[BaseModel],
    requires: tuple[str, ...],
    *,
    where: str | None = None,
) -> str:
    where = where or module
    spec = getattr(implementation, "spec", None)
    if not (isinstance(spec, type) and issubclass(spec, spec_base)):
        raise PluginError(f"{where}: expected an object whose `spec` is a subclass of {spec_base.__name__}")
    missing = [name for name in requires if not hasattr(implementation, name)]
    if missing:
        raise PluginError(f"{where}: missing {', '.join(missing)} (a kind here needs {', '.join(requires)})")
    name = kind_of(spec)
    taken = found.get(name)
    if taken is not None and taken.implementation is not implementation:
        owner = taken.distribution or "mlchaos"
        raise PluginError(f"{where}: the kind '{name}' is already registered by {owner} ({taken.module})")
    found[name] = Registered(spec, implementation, module, distribution)
    return name
