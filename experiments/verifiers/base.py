"""What verifiers read and what they return.

A verifier is a pure function ``(recording, params) -> Verdict``: it never talks to the target, only reads what the
run recorded. That is what makes verdicts testable on synthetic timelines and recomputable by ``mlchaos report``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Generic, TypeVar

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from mlchaos.experiments.records import PROBE_SCHEMA, REQUEST_SCHEMA
from mlchaos.experiments.service_declaration import DEFAULT_TIERS, ServiceDeclaration
from mlchaos.experiments.verifiers.advice import Advice, WaysOfFailing
from mlchaos.experiments.verifiers.needs import Needs
from mlchaos.experiments.verifiers.steady_state import SteadyState
from mlchaos.experiments.verifiers.tiers import Loc, unknown_references


class Phase(enum.StrEnum):
    """Parts of a run, in order. ``fault`` spans from the first fault's start to the last fault's end.
    ``warmup`` (only when the scenario sets ``load.warmup``) is never judged: verdicts start at the baseline."""

    WARMUP = "warmup"
    BASELINE = "baseline"
    FAULT = "fault"
    RECOVERY = "recovery"
    AFTER = "after"


@dataclass(frozen=True)
class PhaseWindow:
    phase: Phase
    start: float
    end: float


@dataclass(frozen=True)
class FaultWindow:
    """When a fault was really applied and reverted (epoch seconds, from the journal)."""

    fault_id: str
    kind: str
    injected_at: float
    reverted_at: float | None
    heals_itself: bool


@dataclass(frozen=True)
class Recording:
    """Everything a run recorded, as the verifiers see it.

    ``requests`` has the columns of :class:`~mlchaos.experiments.records.RequestRecord`, ``probes`` those of
    :class:`~mlchaos.experiments.records.ProbeSample`; both are sorted by time.
    """

    requests: pd.DataFrame
    probes: pd.DataFrame
    phases: tuple[PhaseWindow, ...]
    faults: tuple[FaultWindow, ...]
    started_at: float
    ended_at: float
    steady_state: SteadyState
    """The scenario's hypothesis, which verifiers such as ``mttr`` are defined in terms of."""
    tiers: tuple[str, ...] = DEFAULT_TIERS
    """The target's tier ladder, best first (:mod:`~mlchaos.experiments.verifiers.tiers`). A run's recording
    always has its target's; the default (the glossary's ladder) is for recordings built in tests."""

    def phase(self, phase: Phase) -> PhaseWindow | None:
        return next((p for p in self.phases if p.phase == phase), None)

    def fault(self, fault_id: str) -> FaultWindow | None:
        return next((f for f in self.faults if f.fault_id == fault_id), None)

    def requests_between(self, start: float, end: float) -> pd.DataFrame:
        starts = self.requests["start"]
        if starts.is_monotonic_increasing:  # sorted, as recorded: a slice, which copies nothing
            first, end_at = starts.searchsorted([start, end])
            return self.requests.iloc[first:end_at]
        return self.requests[(starts >= start) & (starts < end)]


def empty_requests() -> pd.DataFrame:
    frame: pd.DataFrame = REQUEST_SCHEMA.empty_table().to_pandas()
    return frame


def empty_probes() -> pd.DataFrame:
    frame: pd.DataFrame = PROBE_SCHEMA.empty_table().to_pandas()
    return frame


class VerifierSpec(BaseModel):
    """Fields every verifier in a scenario has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    """The verifier's name in the registry; each verifier narrows it to its own literal."""
    weight: float = Field(1.0, gt=0, description="Weight of this verifier in the resilience score.")

    tier_fields: ClassVar[tuple[str, ...]] = ()
    """Fields naming tiers of the target's ladder, which the loader checks against the target's tiers."""

    def ladder_problems(self, ladder: tuple[str, ...]) -> list[tuple[Loc, str]]:
        """What is wrong with this verifier on a target with this tier ladder: by default, tiers it does not
        have. Field paths are relative to the verifier; the loader places them at their lines."""
        return unknown_references(self, self.tier_fields, ladder)

    def declaration_problems(self, declaration: ServiceDeclaration) -> list[tuple[Loc, str]]:
        """What else this verifier names that the target's declaration lacks (e.g. a gauge it does not
        declare): by default nothing. Field paths are relative to the verifier, as for :meth:`ladder_problems`."""
        return []


Cell = str | float | int | None


@dataclass(frozen=True)
class OutcomeTable:
    """A breakdown a verifier shows under its verdict in the report, e.g. one row per mutator or per attack:
    what was sent and what came back. Cells are plain values; the report formats and escapes them."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


@dataclass(frozen=True)
class Judged:
    """The stretch of the run a verdict judged (epoch seconds): a phase, or a fault's window."""

    start: float
    end: float


@dataclass(frozen=True)
class BudgetBurn:
    """How much of the scenario's error budget the requests of a verdict's window burned.

    The budget is what the scenario's availability SLO (its steady state's ``min_availability``) allows in that
    window: ``allowed = (1 − slo) × requests``; ``bad`` = requests not available (5xx, timeout, refused,
    unreadable 2xx); ``burned = bad / allowed`` (1.0 = the whole budget). ``burned`` is ``None`` only when the SLO
    allows nothing (``slo`` = 1) and something was bad: more than all of it."""

    slo: float
    requests: int
    bad: int
    allowed: float
    burned: float | None


@dataclass(
    frozen=True, kw_only=True
)  # by keyword: ten fields, four of them strings, are easy to swap by position
class Verdict:
    """The outcome of one verifier: the number it measured, the target it was held to, and why it passed or not.

    ``measured`` is ``None`` when there was nothing to measure (e.g. no requests in the phase); such a verdict fails,
    and ``explanation`` says so.
    """

    verifier: str
    """The verifier's kind: its spec's ``type`` (pass ``spec.type``)."""
    name: str
    """This verdict's label in the report, e.g. ``availability (fault)``."""
    passed: bool
    measured: float | None
    target: str
    unit: str
    explanation: str
    details: dict[str, float | str | None] = field(default_factory=dict)
    weight: float = 1.0
    """The verifier's weight in the resilience score (from the scenario; 1 unless it says otherwise)."""
    table: OutcomeTable | None = None
    """Optional breakdown shown in the report (bad-input, adversarial and shift outcomes)."""
    advice: Advice | None = None
    """On a failing verdict: which way it failed and where to look (:mod:`~mlchaos.experiments.verifiers.advice`);
    ``None`` on a passing one. Filled in by the registry when a verifier names no way."""
    judged: Judged | None = None
    """The stretch of the run this verdict judged; ``None`` when it judged none (nothing applied, or tagged
    requests across the whole run)."""
    budget: BudgetBurn | None = None
    """The error budget burned in ``judged`` (set by the registry; the suite report ranks failures by it)."""

    @classmethod
    def unmeasured(
        cls,
        *,
        verifier: str,
        name: str,
        target: str,
        unit: str,
        explanation: str,
        details: dict[str, float | str | None] | None = None,
        table: OutcomeTable | None = None,
        advice: Advice | None = None,
        judged: Judged | None = None,
    ) -> Verdict:
        """A failing verdict with nothing measured (no requests, no signal, no recovery): ``explanation`` says why.
        Without ``advice``, the registry gives it the verifier's ``UNMEASURED`` advice (the measurement failed);
        a verifier passes its own when nothing was measured because the service never did something (never
        recovered, never reacted)."""
        return cls(
            verifier=verifier,
            name=name,
            passed=False,
            measured=None,
            target=target,
            unit=unit,
            explanation=explanation,
            details=details if details is not None else {},
            table=table,
            advice=advice,
            judged=judged,
        )


SpecT = TypeVar("SpecT", bound=VerifierSpec)


@dataclass(frozen=True)
class Verifier(Generic[SpecT]):
    """A verifier kind, as its module exposes it (``VERIFIER = Verifier(MySpec, verify)``): the model a scenario
    declares it with, whose ``type: Literal["<name>"]`` is its name (written nowhere else), and the pure function
    judging a recording against it. The registry (:mod:`mlchaos.experiments.verifiers`) finds it there, or in
    another package through the ``mlchaos.verifiers`` entry point group."""

    spec: type[SpecT]
    verify: Callable[[Recording, SpecT], Verdict]
    needs: Needs | None = None
    """Whether it would have its data on a target, from what ``mlchaos target check`` saw
    (:mod:`~mlchaos.experiments.verifiers.needs`); ``None``: not stated, and the check says it does not know."""
    ways: type[WaysOfFailing] | None = None
    """Its ways of failing, each with its advice (:mod:`~mlchaos.experiments.verifiers.advice`); ``None``: not
    stated, and its failures get generic advice, said to be generic."""
