"""What every fault module provides, and the error vocabulary callers see.

One fault = one module in this package, exposing ``INJECTOR``: an object with

- ``spec``: the pydantic model of the fault as a scenario declares it (``type`` is its discriminator);
- ``undo``: the pydantic model of everything needed to undo it, written to the journal *before* the fault is
  applied, so ``mlchaos rollback`` can revert a run that was killed with SIGKILL;
- ``plan(spec, target)`` → :class:`FaultPlan`: exactly what the fault will touch and how to undo it;
  it reads nothing and changes nothing;
- ``check(undo)``: read-only preflight — the backend answers and what the fault names exists there;
- ``inject(spec, undo)`` and ``revert(undo)``: apply and undo. ``revert`` is idempotent and safe to call for a fault
  that was only half applied, or never.

Error tree::

    InjectorError                  the fault could not be applied or reverted
    ├── TargetUnreachable          the backend (toxiproxy, supervisord, API server) did not answer in time
    └── TargetMisconfigured        the backend answered, but the named proxy / program / workload does not exist
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from mlchaos.experiments.durations import PositiveSeconds, Seconds
from mlchaos.experiments.targets import TargetEndpoints


class InjectorError(Exception):
    """A fault could not be applied or reverted; the message says what and where."""


class TargetUnreachable(InjectorError):
    """The backend that applies the fault did not answer (in time)."""


class TargetMisconfigured(InjectorError):
    """The backend answered, but what the fault names does not exist there."""


class FaultSpec(BaseModel):
    """Fields every fault in a scenario's timeline has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    """The fault's name in the registry; each fault narrows it to its own literal."""
    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Name used by verifiers to refer to this fault."
    )
    at: Seconds = Field(0.0, description="Offset from the start of the fault phase.")
    duration: PositiveSeconds
    heals_itself: ClassVar[bool] = False
    """True when the system recovers on its own (MTTR counts from injection), False when recovery needs the revert
    (MTTR counts from the revert)."""


class Undo(BaseModel):
    """Everything needed to undo one fault; journalled before the fault is applied."""

    model_config = ConfigDict(extra="forbid", frozen=True)


SpecT = TypeVar("SpecT", bound=FaultSpec)
UndoT = TypeVar("UndoT", bound=Undo)


@dataclass(frozen=True)
class FaultPlan(Generic[UndoT]):
    """What a fault will do, resolved against a target, before anything is touched."""

    touches: tuple[str, ...]
    """Exactly what will be touched, e.g. ``toxiproxy proxy 'feature_store' at http://127.0.0.1:8474``."""
    description: str
    undo: UndoT
    load_multiplier: float | None = None
    """For faults that act on the traffic: the load during the fault is the normal load times this."""


class Injector(Protocol[SpecT, UndoT]):
    kind: str
    spec: type[SpecT]
    undo: type[UndoT]

    def plan(self, spec: SpecT, target: TargetEndpoints) -> FaultPlan[UndoT]: ...

    def check(self, undo: UndoT) -> None: ...

    def inject(self, spec: SpecT, undo: UndoT) -> None: ...

    def revert(self, undo: UndoT) -> None: ...


def require(value: Any, what: str, fault: str) -> Any:
    """``value`` if the target provides it, else a :class:`TargetMisconfigured` naming what is missing."""
    if value is None or value == "":
        raise TargetMisconfigured(
            f"fault '{fault}' needs the target's {what}, and the target does not give one"
        )
    return value


def proxy_for(target: TargetEndpoints, dependency: str, fault_id: str) -> tuple[str, str]:
    """The toxiproxy API URL and the proxy name through which ``dependency`` is reached."""
    url = require(target.toxiproxy_url, "toxiproxy URL", fault_id)
    if dependency not in target.proxies:
        known = ", ".join(sorted(target.proxies)) or "none"
        raise TargetMisconfigured(
            f"fault '{fault_id}': the target has no proxy for dependency '{dependency}' (it has: {known})"
        )
    return url, target.proxies[dependency]
