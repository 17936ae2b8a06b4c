"""Signals a target declares: where its breaker states, breaker transitions, drift alarm and any extra gauge can be
read — from the service's own ``/metrics`` (metric name and label matchers) or from a Prometheus server (one PromQL
query per signal) — and which value, or which series, means which state.

Nothing here knows any service's metric names: the reference stack's are one declaration among others
(:mod:`mlchaos.staging.profile`). The prober samples the declared signals only and records them under the same
probe checks whatever their source (``breaker:<dependency>``, ``transitions:<dependency>:<from>><to>``,
``drift:alarm``, ``drift:alarms_total``, ``gauge:<name>``), so verifiers never see where a signal came from.

Two ways a breaker's state is exposed, both common:

- **one series per state** (``state_label`` set): e.g. ``cb_state{dependency="db", state="open"} 1`` — the series
  whose value is 1 names the current state in that label;
- **the value is the state** (``state_label`` unset): e.g. ``cb_state{upstream="db"} 2`` — ``states`` maps each
  value to a state (``{closed: 0, open: 1, half_open: 2}``).

Either way ``states`` may rename what the service writes (``{open: OPEN}``) to mlchaos' ``closed`` / ``open`` /
``half_open``; a value that maps to no state is recorded as a failed sample naming it, never guessed.

These are the declaration's models only: :mod:`~mlchaos.experiments.signal_reading` fetches a signal's series
and :mod:`~mlchaos.experiments.signal_mapping` turns them into probe readings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlchaos.experiments.records import BreakerState

_MODEL = ConfigDict(extra="forbid", frozen=True)

MetricName = Annotated[str, Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", max_length=200)]
LabelName = Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$", max_length=100)]
SignalName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=80)]


class Source(BaseModel):
    """Where one signal's series come from: exactly one of ``metric`` (the service's ``/metrics``) or ``query``
    (PromQL, run against the target's ``signals.prometheus_url``)."""

    model_config = _MODEL

    metric: MetricName | None = Field(
        None,
        description="Metric family name in the service's /metrics (a counter with or without `_total`).",
    )
    labels: dict[LabelName, str] = Field(
        default_factory=dict, description="Only series with exactly these label values (with `metric`)."
    )
    query: str | None = Field(
        None,
        min_length=1,
        max_length=2000,
        description="A PromQL instant query returning the series (needs signals.prometheus_url).",
    )

    @property
    def shown(self) -> str:
        """The source as errors name it: ``metric{label="value"}`` or ``query '…'``."""
        if self.query is not None:
            return f"query {self.query!r}"
        matchers = ", ".join(f'{name}="{value}"' for name, value in self.labels.items())
        return f"{self.metric}{{{matchers}}}" if matchers else str(self.metric)

    @model_validator(mode="after")
    def _one_source(self) -> Source:
        if (self.metric is None) == (self.query is None):
            raise ValueError("give exactly one of 'metric' (read from /metrics) or 'query' (PromQL)")
        if self.query is not None and self.labels:
            raise ValueError("'labels' select series of a 'metric'; put the matchers into the PromQL query")
        return self


class Dependency(BaseModel):
    """Which dependency a series belongs to: a fixed name, or the value of one of its labels."""

    model_config = _MODEL

    dependency: str | None = Field(
        None, min_length=1, description="The dependency's name, when the series are about one dependency."
    )
    dependency_label: LabelName | None = Field(
        None, description="The label naming the dependency, when one metric covers several."
    )

    @model_validator(mode="after")
    def _one_name(self) -> Dependency:
        if (self.dependency is None) == (self.dependency_label is None):
            raise ValueError("give exactly one of 'dependency' (a name) or 'dependency_label' (a label)")
        return self


StateNames = dict[BreakerState, str]
"""mlchaos' state → what the service writes for it (a label value, or the gauge's value as text: ``"2"``)."""
_IDENTITY: StateNames = {state: state.value for state in BreakerState}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _listed(states: Mapping[str, str]) -> str:
    return ", ".join(f"{state}: {text!r}" for state, text in states.items())


def _state_of(written: StateNames, text: str) -> BreakerState | None:
    return next((state for state, name in written.items() if name == text), None)


def _one_to_one(written: StateNames, *, numbers: bool = False) -> None:
    """Two states written alike could not be told apart: refuse the declaration rather than guess later."""
    seen: dict[object, list[str]] = {}
    for state, text in written.items():
        seen.setdefault(_number(text) if numbers else text, []).append(state.value)
    shared = [names for names in seen.values() if len(names) > 1]
    if shared:
        raise ValueError(
            f"'states' must name each state differently: {' and '.join(shared[0])} are written alike "
            f"({_listed({state.value: text for state, text in written.items()})})"
        )


class BreakerSignal(Source, Dependency):
    """A circuit breaker's current state."""

    state_label: LabelName | None = Field(
        None,
        description="One series per state: the label naming the state; the series at 1 is the current one. "
        "Unset: the series' value is the state (see `states`).",
    )
    states: StateNames = Field(
        default_factory=dict,
        description="State → what the service writes for it; default: the names closed/open/half_open "
        "(one series per state). Required when the value is the state, e.g. {closed: '0', open: '1', "
        "half_open: '2'}.",
    )

    @model_validator(mode="after")
    def _states_readable(self) -> BreakerSignal:
        if self.state_label is None and not self.states:
            raise ValueError(
                "the value is the state here (no 'state_label'), so 'states' must say which value means which "
                "state, e.g. {closed: '0', open: '1', half_open: '2'}"
            )
        if self.state_label is None:
            words = {state.value: text for state, text in self.states.items() if _number(text) is None}
            if words:
                raise ValueError(
                    f"the value is the state here (no 'state_label'), and a metric's value is a number: "
                    f"{_listed(words)} is not (give 'state_label' if the state is a label)"
                )
        _one_to_one(self.written, numbers=self.state_label is None)
        return self

    @property
    def written(self) -> StateNames:
        """What the service writes for each state: ``states``, and for label values the names themselves unless
        renamed (a breaker without ``half_open`` simply never shows it)."""
        return dict(self.states) if self.state_label is None else {**_IDENTITY, **self.states}

    def state_of(self, written: str | float) -> BreakerState | None:
        """The state a label value (one series per state) or a value (the value is the state) stands for."""
        if self.state_label is not None:
            return _state_of(self.written, str(written))
        value = _number(str(written)) if isinstance(written, str) else written
        return next((state for state, text in self.written.items() if _number(text) == value), None)

    @property
    def states_shown(self) -> str:
        return _listed({state.value: text for state, text in self.written.items()})


class TransitionSignal(Source, Dependency):
    """A counter of breaker transitions: every transition (``from_label``/``to_label``), or one kind
    (``from_state``/``to_state``), e.g. a counter of openings only."""

    from_label: LabelName | None = Field(None, description="The label naming the state left.")
    to_label: LabelName | None = Field(None, description="The label naming the state entered.")
    from_state: BreakerState | None = Field(
        None, description="The state left, when the counter counts one kind."
    )
    to_state: BreakerState | None = Field(None, description="The state entered, for a counter of one kind.")
    states: StateNames = Field(
        default_factory=dict, description="State → the label value the service writes for it (default: same)."
    )

    @model_validator(mode="after")
    def _both_ends(self) -> TransitionSignal:
        if (self.from_label is None) == (self.from_state is None):
            raise ValueError("give exactly one of 'from_label' or 'from_state'")
        if (self.to_label is None) == (self.to_state is None):
            raise ValueError("give exactly one of 'to_label' or 'to_state'")
        _one_to_one(self.written)
        return self

    @property
    def written(self) -> StateNames:
        """The label value the service writes for each state (the state's own name unless renamed)."""
        return {**_IDENTITY, **self.states}

    def state_of(self, written: str) -> BreakerState | None:
        return _state_of(self.written, written)

    @property
    def states_shown(self) -> str:
        return _listed({state.value: text for state, text in self.written.items()})


class DriftSignals(BaseModel):
    """The service's drift monitor."""

    model_config = _MODEL

    alarm: Source | None = Field(None, description="A gauge that is ≥ 1 while the drift alarm is raised.")
    onsets: Source | None = Field(
        None, description="A counter of alarm onsets (sees an alarm shorter than the sampling interval)."
    )


class Signals(BaseModel):
    """Everything the prober samples besides the health endpoints. Empty by default: a verifier that needs an
    undeclared signal fails saying which declaration is missing (``mlchaos target check`` shows it up front)."""

    model_config = _MODEL

    prometheus_url: str | None = Field(
        None, description="A Prometheus server scraping the service; needed by signals given as `query`."
    )
    breakers: tuple[BreakerSignal, ...] = ()
    transitions: tuple[TransitionSignal, ...] = ()
    drift: DriftSignals = DriftSignals()
    gauges: dict[SignalName, Source] = Field(
        default_factory=dict,
        description="Extra numbers to sample and chart, by name (probe check gauge:NAME).",
    )

    @property
    def sources(self) -> tuple[Source, ...]:
        drift = tuple(s for s in (self.drift.alarm, self.drift.onsets) if s is not None)
        return (*self.breakers, *self.transitions, *drift, *self.gauges.values())

    @property
    def empty(self) -> bool:
        return not self.sources

    @model_validator(mode="after")
    def _prometheus_for_queries(self) -> Signals:
        if self.prometheus_url is None and any(s.query is not None for s in self.sources):
            raise ValueError("signals given as PromQL 'query' need 'prometheus_url' (the Prometheus server)")
        return self
