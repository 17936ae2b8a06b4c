"""Guesses ``mlchaos init`` makes from what a service publishes — its metric families and one answer — each with
what it was guessed from, for the comment the person checking it reads. Pure: no I/O here.

- **Signals** (:func:`guess_signals`): a gauge named like a breaker (``breaker``, ``circuit``, ``cb``) is a breaker
  state — one series per state when a label's values name states (``state="open"``), else the value is the
  state, guessed as 0 closed / 1 open / 2 half-open when the values seen are among those; a counter named like
  one with a from-label and a to-label counts transitions; a ``drift`` gauge named like an alarm is the drift
  alarm, a ``drift`` counter its onsets.
- **Answer fields** (:func:`guess_answer`): the tier from a header named like one (``tier``, ``served``,
  ``source``, ``fallback``) or a body key named ``tier``; the prediction from a string leaf named like one
  (``prediction``, ``label``, ``class``, ``decision``…), else the first element of a list, else the first
  string; confidence and score from numbers in 0..1 by their names (and a score beside a list's prediction);
  review and shed from booleans named like them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlchaos.experiments.inputs.paths import leaves
from mlchaos.experiments.records import BreakerState

MAX_VALUES = 8
"""Label values shown per label in a comment."""


@dataclass(frozen=True)
class Family:
    """One metric family of the exposition, as far as guessing needs it."""

    name: str
    type: str
    labels: Mapping[str, tuple[str, ...]]
    """Label name → the values seen (sorted)."""
    values: tuple[float, ...]

    def shown(self) -> str:
        """``name (type) {label: a, b}`` for a comment."""
        labels = "; ".join(
            f"{label}: {', '.join(values[:MAX_VALUES])}{', …' if len(values) > MAX_VALUES else ''}"
            for label, values in self.labels.items()
        )
        seen = ", ".join(sorted({f"{v:g}" for v in self.values})[:MAX_VALUES])
        return f"{self.name} ({self.type}) {{{labels}}} values seen: {seen}"


def families_of(parsed: Iterable[Any]) -> list[Family]:
    """:class:`Family` of each family prometheus_client's parser gave (``name``, ``type``, ``samples``)."""
    found = []
    for family in parsed:
        labels: dict[str, set[str]] = {}
        values = []
        for sample in family.samples:
            values.append(float(sample.value))
            for label, value in sample.labels.items():
                labels.setdefault(label, set()).add(str(value))
        found.append(
            Family(
                str(family.name),
                str(family.type),
                {label: tuple(sorted(seen)) for label, seen in labels.items()},
                tuple(values),
            )
        )
    return found


@dataclass(frozen=True)
class Suggested:
    """A declaration to write (a mapping for the target file) and the comment lines above it."""

    declaration: dict[str, Any]
    comments: tuple[str, ...]


@dataclass
class SignalGuesses:
    breakers: list[Suggested] = field(default_factory=list)
    transitions: list[Suggested] = field(default_factory=list)
    alarm: Suggested | None = None
    onsets: Suggested | None = None
    unused: list[Family] = field(default_factory=list)
    """Families named like breakers or drift that fit no declaration: listed in a comment."""


_BREAKER = re.compile(r"breaker|circuit|(^|_)cb(_|$)", re.IGNORECASE)
_STATE_LABEL = re.compile(r"^(state|status|circuit_state|breaker_state)$", re.IGNORECASE)
_FROM = re.compile(r"^(from|from_state|old|old_state|previous|prev|source)$", re.IGNORECASE)
_TO = re.compile(r"^(to|to_state|new|new_state|next|target)$", re.IGNORECASE)
_ALARM = re.compile(r"alarm|alert|active|detected|firing", re.IGNORECASE)
_COUNTERS = ("counter",)
_GAUGES = ("gauge", "unknown", "untyped")


def _normal(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def _state_names(values: Sequence[str]) -> dict[BreakerState, str] | None:
    """Which seen value names which state (``OPEN`` → open, ``half-open`` → half_open); ``None`` if none do."""
    found = {
        state: value for state in BreakerState for value in values if _normal(value) == _normal(state.value)
    }
    return found or None


def _renamed(names: Mapping[BreakerState, str]) -> dict[str, str]:
    """``states:`` for a declaration: only the states written otherwise than mlchaos names them."""
    return {state.value: value for state, value in names.items() if value != state.value}


def guess_signals(families: Sequence[Family]) -> SignalGuesses:
    guesses = SignalGuesses()
    for family in families:
        suggested = None
        if _BREAKER.search(family.name) and family.type in _GAUGES:
            suggested = _breaker(family)
            if suggested is not None:
                guesses.breakers.append(suggested)
        elif _BREAKER.search(family.name) and family.type in _COUNTERS:
            suggested = _transitions(family)
            if suggested is not None:
                guesses.transitions.append(suggested)
        elif "drift" in family.name.lower():
            suggested = _drift(family, guesses)
        if suggested is None and (_BREAKER.search(family.name) or "drift" in family.name.lower()):
            guesses.unused.append(family)
    return guesses


def _dependency(family: Family, *, besides: Sequence[str] = ()) -> tuple[dict[str, str], str]:
    """``dependency_label`` (the first other label) or a fixed ``dependency`` named after the metric."""
    others = [label for label in family.labels if label not in besides]
    if others:
        return {"dependency_label": others[0]}, f"the dependency is named by label '{others[0]}'"
    words = [w for w in family.name.split("_") if not _BREAKER.search(w) and w not in ("state", "status")]
    name = words[-1] if words else "dependency"
    return {"dependency": name}, f"no label names the dependency: called '{name}' here, rename it"


def _breaker(family: Family) -> Suggested | None:
    seen = f"seen: {family.shown()}"
    state_label = next(
        (
            label
            for label, values in family.labels.items()
            if _STATE_LABEL.match(label) or _state_names(values)
        ),
        None,
    )
    if state_label is not None:
        names = _state_names(family.labels[state_label]) or {}
        dependency, said = _dependency(family, besides=(state_label,))
        declaration: dict[str, Any] = {"metric": family.name, **dependency, "state_label": state_label}
        if _renamed(names):
            declaration["states"] = _renamed(names)
        comments = (
            f"one series per state: the series at 1 names the state in label '{state_label}'; {said}",
        )
        return Suggested(declaration, (*comments, seen))
    if not set(family.values) <= {0.0, 1.0, 2.0}:
        return None  # not a state: a failure count, a duration …
    dependency, said = _dependency(family)
    declaration = {
        "metric": family.name,
        **dependency,
        "states": {"closed": "0", "open": "1", "half_open": "2"},
    }
    comments = (
        "the value is the state: GUESSED 0 closed, 1 open, 2 half-open from the values seen — check which value "
        f"means which state in the service's code or docs; {said}",
    )
    return Suggested(declaration, (*comments, seen))


def _transitions(family: Family) -> Suggested | None:
    old = next((label for label in family.labels if _FROM.match(label)), None)
    new = next((label for label in family.labels if _TO.match(label)), None)
    if old is None or new is None:
        return None
    dependency, said = _dependency(family, besides=(old, new))
    declaration: dict[str, Any] = {"metric": family.name, **dependency, "from_label": old, "to_label": new}
    names = _state_names([*family.labels[old], *family.labels[new]]) or {}
    if _renamed(names):
        declaration["states"] = _renamed(names)
    comments = (f"a counter of breaker transitions, from label '{old}' to label '{new}'; {said}",)
    return Suggested(declaration, (*comments, f"seen: {family.shown()}"))


def _drift(family: Family, guesses: SignalGuesses) -> Suggested | None:
    seen = f"seen: {family.shown()}"
    if family.type in _COUNTERS and guesses.onsets is None:
        guesses.onsets = Suggested({"metric": family.name}, ("a counter of drift alarm onsets", seen))
        return guesses.onsets
    if family.type in _GAUGES and _ALARM.search(family.name) and guesses.alarm is None:
        comment = "the drift alarm: raised while a series is ≥ 1"
        guesses.alarm = Suggested({"metric": family.name}, (comment, seen))
        return guesses.alarm
    return None


@dataclass(frozen=True)
class Guess:
    """A response field spec and the value it read in the one answer."""

    spec: str
    seen: Any

    def shown(self) -> str:
        where = (
            f"header {self.spec.removeprefix('header:')}" if self.spec.startswith("header:") else self.spec
        )
        return f"{where} = {json.dumps(self.seen, ensure_ascii=False)}"


_TIER_HEADER = re.compile(r"tier|served|source|fallback", re.IGNORECASE)
_PREDICTION = re.compile(
    r"^(prediction|predicted|pred|label|class|class_label|decision|outcome|result|verdict)$"
)
_NOT_PREDICTION = re.compile(r"id$|request|reason|name|message|version|model|tier|trace|error|detail|status")
_CONFIDENCE_NAMES = (
    re.compile(r"^confidence$"),
    re.compile(r"confidence"),
    re.compile(r"^(probability|proba|prob)$"),
)
_SCORE_NAMES = (re.compile(r"^score$"), re.compile(r"^(probability|proba|prob|p_\w+|risk)$"))
_REVIEW = re.compile(r"review|flag")
_SHED = re.compile(r"shed")


def guess_answer(document: Any, headers: Mapping[str, str]) -> dict[str, Guess]:
    """``tier``, ``prediction``, ``confidence``, ``score``, ``review``, ``shed`` → a guess, for those found."""
    found: dict[str, Guess] = {}
    scalars = [(path, value) for path, value in leaves(document) if path] if document is not None else []
    named = [(path, path.split(".")[-1].lower(), value) for path, value in scalars]
    tier_header = next((name for name in headers if _TIER_HEADER.search(name)), None)
    if tier_header is not None:
        found["tier"] = Guess(f"header:{tier_header}", headers[tier_header])
    else:
        tier = next(((p, v) for p, key, v in named if "tier" in key and isinstance(v, str)), None)
        if tier is not None:
            found["tier"] = Guess(*tier)
    strings = [(p, key, v) for p, key, v in named if isinstance(v, str) and p != _spec(found.get("tier"))]
    prediction = (
        next(((p, v) for p, key, v in strings if _PREDICTION.match(key)), None)
        or next(((p, v) for p, key, v in strings if key == "0" and not _NOT_PREDICTION.search(p)), None)
        or next(((p, v) for p, key, v in strings if not _NOT_PREDICTION.search(key)), None)
    )
    if prediction is not None:
        found["prediction"] = Guess(*prediction)
    unit = [(p, key, v) for p, key, v in named if _unit(v)]
    for name, patterns in (("confidence", _CONFIDENCE_NAMES), ("score", _SCORE_NAMES)):
        taken = {guess.spec for guess in found.values()}
        match = next(
            ((p, v) for pattern in patterns for p, key, v in unit if pattern.search(key) and p not in taken),
            None,
        )
        if match is not None:
            found[name] = Guess(*match)
    if "score" not in found and prediction is not None and prediction[0].endswith(".0"):
        beside = prediction[0][:-1] + "1"  # [label, score]: a list answer with the score next to the label
        value = next((v for p, v in scalars if p == beside), None)
        if _unit(value):
            found["score"] = Guess(beside, value)
    for name, pattern in (("review", _REVIEW), ("shed", _SHED)):
        flag = next(((p, v) for p, key, v in named if isinstance(v, bool) and pattern.search(key)), None)
        if flag is not None:
            found[name] = Guess(*flag)
    return found


def _spec(guess: Guess | None) -> str | None:
    return None if guess is None else guess.spec


def _unit(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1
