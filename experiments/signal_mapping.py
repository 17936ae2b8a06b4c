"""The series a declared signal's source returned → probe readings, the same whatever the source.

One rule per kind of signal (see :mod:`~mlchaos.experiments.signals` for the declarations):

- a **breaker** needs exactly one current state per dependency — one series at 1 (one series per state), or one
  series whose value ``states`` maps (the value is the state);
- **counters** (transitions, drift onsets) add up the series of one key, as PromQL's ``sum()`` would; a counter
  without series has counted nothing yet (prometheus_client shows a labelled counter once it counted), which is
  no reading and no failure;
- the **drift alarm** is raised while any of its series is ≥ 1 (a monitor with an alarm per feature);
- a **gauge** needs exactly one series.

Anything else — no series, several where one is expected, a value or label that maps to no declared state — is a
failed reading whose error starts with the declaration (``signals.breakers[0]: …``) and names what was seen. It
is never guessed. No I/O here: :mod:`~mlchaos.experiments.signal_reading` fetches the series.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from mlchaos.experiments.records import BreakerState
from mlchaos.experiments.signals import BreakerSignal, Dependency, Signals, Source, TransitionSignal


@dataclass(frozen=True)
class Series:
    """One time series as a source returned it: its labels (without ``__name__``) and its current value."""

    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class Reading:
    """What a declared signal showed, as a probe check (see :class:`~mlchaos.experiments.records.ProbeSample`);
    the prober adds when it was sampled and how long the request took."""

    check: str
    ok: bool
    value: str | None = None
    number: float | None = None
    error: str | None = None


_Interpret = Callable[[Sequence[Series], str], list[Reading]]


@dataclass(frozen=True)
class DeclaredSignal:
    """One signal of a target's declaration, ready to read."""

    where: str
    """Where it is declared, e.g. ``signals.breakers[0]``: every error of its readings starts with it."""
    source: Source
    failure_check: str
    """The check a failed read is recorded under: the one it fills when known (``breaker:db``, ``gauge:queue``),
    else ``signal:<where>`` (e.g. ``signal:transitions[0]``), which no verifier mistakes for data."""
    interpret: _Interpret = field(repr=False, compare=False)

    def read(self, series: Sequence[Series]) -> list[Reading]:
        return self.interpret(series, self.where)

    def failed(self, error: str) -> Reading:
        return Reading(self.failure_check, False, error=f"{self.where}: {error}")


def declared(signals: Signals) -> tuple[DeclaredSignal, ...]:
    """Every signal ``signals`` declares, in declaration order."""
    found: list[DeclaredSignal] = []

    def add(where: str, source: Source, check: str | None, interpret: _Interpret) -> None:
        found.append(DeclaredSignal(where, source, check or _signal_check(where), interpret))

    for i, breaker in enumerate(signals.breakers):
        fixed = None if breaker.dependency is None else f"breaker:{breaker.dependency}"
        add(f"signals.breakers[{i}]", breaker, fixed, partial(_breaker, breaker))
    for i, counter in enumerate(signals.transitions):
        add(f"signals.transitions[{i}]", counter, None, partial(_transitions, counter))
    if signals.drift.alarm is not None:
        add("signals.drift.alarm", signals.drift.alarm, None, partial(_alarm, signals.drift.alarm))
    if signals.drift.onsets is not None:
        add("signals.drift.onsets", signals.drift.onsets, None, _onsets)
    for name, gauge in signals.gauges.items():
        add(f"signals.gauges.{name}", gauge, f"gauge:{name}", partial(_gauge, name, gauge))
    return tuple(found)


def _signal_check(where: str) -> str:
    return "signal:" + where.removeprefix("signals.")


def _failed(check: str, where: str, problem: str) -> Reading:
    return Reading(check, False, error=f"{where}: {problem}")


def _by_dependency(signal: Dependency, series: Sequence[Series]) -> tuple[dict[str, list[Series]], int]:
    """Series grouped by the dependency they are about, and how many name none."""
    if signal.dependency is not None:
        return {signal.dependency: list(series)}, 0
    label = str(signal.dependency_label)
    groups: dict[str, list[Series]] = {}
    for one in series:
        if label in one.labels:
            groups.setdefault(one.labels[label], []).append(one)
    return groups, sum(label not in one.labels for one in series)


def _strays(signal: Dependency, count: int, where: str) -> list[Reading]:
    problem = f"{count} series without the label '{signal.dependency_label}' that names the dependency"
    return [_failed(_signal_check(where), where, problem)] if count else []


def _breaker(signal: BreakerSignal, series: Sequence[Series], where: str) -> list[Reading]:
    if not series:
        check = _signal_check(where) if signal.dependency is None else f"breaker:{signal.dependency}"
        return [_failed(check, where, f"no series of {signal.shown}")]
    groups, strays = _by_dependency(signal, series)
    readings = _strays(signal, strays, where)
    read_state = _one_series_at_1 if signal.state_label is not None else _value_is_state
    for dependency, group in sorted(groups.items()):
        state, problem = read_state(signal, group, where)
        check = f"breaker:{dependency}"
        if state is None:
            readings.append(_failed(check, where, f"{problem} (dependency '{dependency}')"))
        else:
            readings.append(Reading(check, state is BreakerState.CLOSED, state.value))
    return readings


def _one_series_at_1(
    signal: BreakerSignal, group: Sequence[Series], where: str
) -> tuple[BreakerState | None, str]:
    label = str(signal.state_label)
    current = [one for one in group if one.value == 1 and label in one.labels]
    if len(current) != 1:
        shown = ", ".join(f"{one.labels.get(label, '(none)')}={one.value:g}" for one in group)
        many = "no series is at 1" if not current else f"{len(current)} series are at 1"
        return None, f"{many} ({label}: {shown}), so there is no one current state"
    text = current[0].labels[label]
    state = signal.state_of(text)
    if state is None:
        return None, f"{label}={text!r} maps to no state in {where}.states ({signal.states_shown})"
    return state, ""


def _value_is_state(
    signal: BreakerSignal, group: Sequence[Series], where: str
) -> tuple[BreakerState | None, str]:
    if len(group) != 1:
        return None, f"{len(group)} series where one was expected: select one with 'labels' or in the query"
    value = group[0].value
    state = None if math.isnan(value) else signal.state_of(value)
    if state is None:
        return None, f"value {value:g} maps to no state in {where}.states ({signal.states_shown})"
    return state, ""


def _transitions(signal: TransitionSignal, series: Sequence[Series], where: str) -> list[Reading]:
    groups, strays = _by_dependency(signal, series)
    problems = {reading.error: reading for reading in _strays(signal, strays, where)}
    counts: dict[tuple[str, BreakerState, BreakerState], float] = {}
    for dependency, group in groups.items():
        for one in group:
            old, left = _end(signal, signal.from_state, signal.from_label, one, where)
            new, entered = _end(signal, signal.to_state, signal.to_label, one, where)
            if old is None or new is None or math.isnan(one.value):
                problem = f"{left or entered or 'value NaN'} (dependency '{dependency}')"
                reading = _failed(_signal_check(where), where, problem)
                problems[reading.error] = reading  # one reading per distinct problem, not per series
            else:
                counts[dependency, old, new] = counts.get((dependency, old, new), 0.0) + one.value
    readings = [
        Reading(f"transitions:{dependency}:{old.value}>{new.value}", True, number=count)
        for (dependency, old, new), count in sorted(counts.items())
    ]
    return readings + list(problems.values())


def _end(
    signal: TransitionSignal, state: BreakerState | None, label: str | None, one: Series, where: str
) -> tuple[BreakerState | None, str]:
    """One end of a transition: the declared state, or the one its label names."""
    if state is not None or label is None:
        return state, ""
    text = one.labels.get(label)
    if text is None:
        return None, f"a series has no label '{label}'"
    found = signal.state_of(text)
    if found is None:
        return None, f"{label}={text!r} maps to no state in {where}.states ({signal.states_shown})"
    return found, ""


def _alarm(source: Source, series: Sequence[Series], where: str) -> list[Reading]:
    check = _signal_check(where)
    if not series:
        return [_failed(check, where, f"no series of {source.shown}")]
    on = any(one.value >= 1 for one in series)
    if not on and any(math.isnan(one.value) for one in series):
        return [_failed(check, where, "value NaN: whether the alarm is raised is unknown")]
    return [Reading("drift:alarm", not on, "1" if on else "0", 1.0 if on else 0.0)]


def _onsets(series: Sequence[Series], where: str) -> list[Reading]:
    total = sum(one.value for one in series)
    if math.isnan(total):
        return [_failed(_signal_check(where), where, "value NaN")]
    return [Reading("drift:alarms_total", True, number=total)] if series else []


def _gauge(name: str, source: Source, series: Sequence[Series], where: str) -> list[Reading]:
    if len(series) != 1:
        many = "no series" if not series else f"{len(series)} series where one was expected"
        return [_failed(f"gauge:{name}", where, f"{many} of {source.shown}")]
    return [Reading(f"gauge:{name}", True, number=series[0].value)]
