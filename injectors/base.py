"""What every fault module provides, and the error vocabulary callers see.

One fault = one module in this package (or in another package, registered through the ``mlchaos.faults`` entry
point group: :mod:`mlchaos.experiments.registry`), exposing ``INJECTOR``: an object with

- ``spec``: the pydantic model of the fault as a scenario declares it; its ``type: Literal["<name>"]`` is the
  fault's name, written nowhere else;
- ``undo``: the pydantic model of everything needed to undo it, written to the journal *before* the fault is
  applied, so ``mlchaos rollback`` can revert a run that was killed with SIGKILL; what the fault creates is named
  after the run (``Undo.for_run``), so a revert only ever undoes its own run's fault;
- ``plan(spec, target)`` → :class:`FaultPlan`: exactly what the fault will touch and how to undo it;
  it reads nothing and changes nothing;
- ``check(undo)``: read-only preflight — the backend answers and what the fault names exists there;
- ``inject(spec, undo)`` and ``revert(undo)``: apply and undo. ``revert`` is idempotent and safe to call for a fault
  that was only half applied, or never.

Its plan says which of three kinds of fault it is (``FaultPlan.acts_on``): on the target (``inject`` changes it),
on the traffic's shape (:class:`OnTraffic`), or on request contents — an ML input fault (:class:`OnRequests`,
:class:`OnPreparedRequests`), whose injector also lists in ``sends`` the
:class:`~mlchaos.experiments.inputs.send.Send` models its requests are made by, so that the load child can read
them (its ``inject`` and ``revert`` then change nothing: the window is programmed into the load).

Error tree::

    InjectorError                  the fault could not be applied or reverted
    ├── TargetUnreachable          the backend (toxiproxy, supervisord, API server) did not answer in time
    └── TargetMisconfigured        the backend answered, but the named proxy / program / workload does not exist
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from mlchaos.experiments.durations import PositiveSeconds, Seconds
from mlchaos.experiments.errors import FaultError
from mlchaos.experiments.http_bounds import DEFAULT_MAX_RESPONSE_BYTES
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.inputs.send import Send
from mlchaos.experiments.targets import ResponseFields, TargetEndpoints


class InjectorError(FaultError):
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

    def with_files_under(self, base: Path) -> Self:
        """This fault with the files it names made absolute, relative to ``base`` (the scenario's folder)."""
        del base
        return self

    def file_problems(self, base: Path) -> list[FileProblem]:
        """What is wrong with the files this fault names (read relative to ``base``); checked when loading."""
        del base
        return []

    def service_problems(
        self, response: ResponseFields, schema: RequestSchema | None
    ) -> list[tuple[tuple[int | str, ...], str]]:
        """What is wrong with this fault for a service whose answers read with ``response`` and whose requests
        carry ``schema`` (``None`` while it is not known: an OpenAPI spec still to be fetched). Checked when
        loading; paths are relative to the fault, and the loader shows each at its line."""
        del response, schema
        return []


@dataclass(frozen=True)
class FileProblem:
    """A bad line in a file a fault names (say a set of adversarial samples): where, and what is wrong."""

    file: Path
    line: int | None
    message: str


class InputFaultSpec(FaultSpec):
    """A fault that changes what the load sends (ML input faults): a share of the requests in its window."""

    share: float = Field(
        0.2, gt=0, le=1, description="Share of the requests sent during the fault that carry it (0..1]."
    )


class Undo(BaseModel):
    """Everything needed to undo one fault; journalled before the fault is applied."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def for_run(self, run_id: str) -> Self:
        """This undo as run ``run_id`` applies it: what the fault creates named after the run (a toxic), so no
        run's revert can remove another's. Called once, when the run is planned; most faults create nothing
        named, and are unchanged."""
        del run_id
        return self


SpecT = TypeVar("SpecT", bound=FaultSpec)
UndoT = TypeVar("UndoT", bound=Undo)


@dataclass(frozen=True)
class OnTarget:
    """The fault acts on the target: ``inject`` and ``revert`` change it (a toxic, a stopped program, pods)."""


@dataclass(frozen=True)
class OnTraffic:
    """The fault acts on the traffic's shape: the engine programs it into the load before the load starts."""

    multiplier: float
    """The load during the fault is the normal load times this."""


@dataclass(frozen=True)
class OnRequests:
    """The fault changes request contents (an ML input fault): ``share`` of the requests in its window are
    made by ``send``, known at plan time (the engine puts it into the load spec)."""

    share: float
    send: Send


@dataclass(frozen=True)
class OnPreparedRequests:
    """Like :class:`OnRequests`, but what is sent is made against the live target before the load starts (an
    attack): the engine calls ``prepare`` after preflight and puts what it made into the load spec."""

    share: float
    prepare: Callable[[InputContext], Prepared]


ActsOn = OnTarget | OnTraffic | OnRequests | OnPreparedRequests
"""The three kinds of fault — on the target, on the traffic's shape, on request contents (sent as planned, or
prepared before the load)."""


@dataclass(frozen=True)
class FaultPlan(Generic[UndoT]):
    """What a fault will do, resolved against a target, before anything is touched."""

    touches: tuple[str, ...]
    """Exactly what will be touched, e.g. ``toxiproxy proxy 'feature_store' at http://127.0.0.1:8474``."""
    description: str
    undo: UndoT
    acts_on: ActsOn = OnTarget()
    """Which kind of fault it is, and what the engine programs into the load for it."""

    @property
    def changes_requests(self) -> bool:
        """Whether the fault changes request contents (then the run resolves the service's request schema)."""
        return isinstance(self.acts_on, OnRequests | OnPreparedRequests)


@dataclass(frozen=True)
class InputContext:
    """What a fault that prepares its inputs before the load (:class:`OnPreparedRequests`) gets from the engine."""

    target: TargetEndpoints
    clean: tuple[dict[str, Any], ...]
    """Clean request bodies from the scenario's dataset (empty for a templated load)."""
    run_dir: Path
    """Where to write what was prepared, so a report or a re-run can use it."""
    seed: int
    request_timeout_s: float
    schema: RequestSchema
    """The service's request schema, resolved for the run (declared, then its OpenAPI spec, then the dataset):
    every feature's type, and ranges or choices where known."""
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    """The load's cap on an answer's size: a larger answer is an error, never read whole."""


@dataclass(frozen=True)
class Prepared:
    """Inputs made before the load: what to send, and a one-line account for the journal."""

    inputs: Send
    summary: str


class Injector(Protocol[SpecT, UndoT]):
    """A fault kind's behaviour (the module's ``INJECTOR``). Its name is its spec's ``type`` literal, read by the
    registry (:mod:`mlchaos.injectors`): nothing else spells it."""

    spec: type[SpecT]
    undo: type[UndoT]

    def plan(self, spec: SpecT, target: TargetEndpoints) -> FaultPlan[UndoT]: ...

    def check(self, undo: UndoT) -> None: ...

    def inject(self, spec: SpecT, undo: UndoT) -> None: ...

    def revert(self, undo: UndoT) -> None: ...


ActionLog = Callable[[str], None]
"""Journals one action a fault is about to take (e.g. the names and UIDs of the pods it deletes next)."""


@runtime_checkable
class JournallingInjector(Protocol):
    """An injector whose targets are chosen only when it acts (and again while the fault lasts): the engine calls
    ``inject_journalled`` instead of ``inject``, and every action is journalled, before it is taken, via ``log``."""

    def inject_journalled(self, spec: Any, undo: Any, log: ActionLog) -> None: ...


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
