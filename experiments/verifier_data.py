"""Which verifiers would have data on a target, from what ``mlchaos target check`` saw of it.

A verifier with nothing valid to measure fails (design.md); this table says so before any run: for each verifier
type of the registry, one requirement function over what the check observed (:class:`Observed`) returning whether
the verifier would have its data, and why not. :data:`REQUIREMENTS` holds one entry per verifier type; a test walks
the registry, so a new verifier without an entry here fails it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from mlchaos.experiments.verifiers import VERIFIERS


class Support(enum.StrEnum):
    YES = "yes"
    LIMITED = "limited"
    """It has data, but part of what it can judge is not read (the reason says which part)."""
    NO = "no"


@dataclass(frozen=True)
class Observed:
    """What one look at the target showed (see :mod:`mlchaos.experiments.target_check`)."""

    answered: bool
    """At least one request got an HTTP status (availability, latency and error budgets count statuses)."""
    tier_on_ladder: bool
    """A 2xx answer's tier was read, and it is on the target's ladder."""
    prediction: bool
    confidence: bool
    score: bool
    """``response.score`` is declared and was read."""
    review: bool
    """``response.review`` is declared and was read."""
    shed: bool
    """``response.shed`` is declared (and readable where it shows)."""
    breakers: tuple[str, ...]
    """The dependencies whose breaker state or transitions were read."""
    drift: bool
    """The drift alarm or its onset counter was read."""
    labelled: bool
    """The requests had labels (canaries): the bodies came from a dataset with labels."""
    predictions_are_labels: bool = True
    """The predictions read are among the labels (quality compares them as text)."""
    workloads: bool = False
    """A Kubernetes target with workloads to sample (``mttr`` with ``source: readiness``)."""
    gauges: tuple[str, ...] = ()
    """The declared gauges (``signals.gauges``) that were read."""


Verdict = tuple[Support, str]
Requirement = Callable[[Observed], Verdict]

_OK: Verdict = (Support.YES, "")
_NO_ANSWERS = "no request got an answer"
_NO_TIER = "no answer's tier was read on the ladder (response.tier, tiers)"


def _answers(seen: Observed) -> Verdict:
    return _OK if seen.answered else (Support.NO, _NO_ANSWERS)


def _tiers(seen: Observed) -> Verdict:
    if not seen.answered:
        return Support.NO, _NO_ANSWERS
    return _OK if seen.tier_on_ladder else (Support.NO, _NO_TIER)


def _steady_state(seen: Observed) -> Verdict:
    if not seen.answered:
        return Support.NO, _NO_ANSWERS
    return _OK if seen.tier_on_ladder else (Support.LIMITED, "availability and p99 only: " + _NO_TIER)


def _mttr(seen: Observed) -> Verdict:
    if seen.answered or seen.workloads:
        return _steady_state(seen) if seen.answered else (Support.LIMITED, "source: readiness only")
    return Support.NO, _NO_ANSWERS


def _breaker(seen: Observed) -> Verdict:
    if seen.breakers:
        return Support.YES, f"breakers read: {', '.join(seen.breakers)}"
    return Support.NO, "no breaker signal read (signals.breakers or signals.transitions)"


def _mttd(seen: Observed) -> Verdict:
    if seen.tier_on_ladder:
        return _OK if seen.breakers else (Support.LIMITED, "degraded tiers only: no breaker signal read")
    if seen.breakers:
        return Support.LIMITED, "breakers only: " + _NO_TIER
    return Support.NO, f"{_NO_TIER}, and no breaker signal read"


def _drift(seen: Observed) -> Verdict:
    if seen.drift:
        return _OK
    return Support.NO, "no drift signal read (signals.drift.alarm or signals.drift.onsets)"


def _gauge(seen: Observed) -> Verdict:
    if seen.gauges:
        return Support.YES, f"gauges read: {', '.join(seen.gauges)}"
    return Support.NO, "no gauge read: needs the gauge declared in signals.gauges and readable"


def _load_shedding(seen: Observed) -> Verdict:
    if not seen.answered:
        return Support.NO, _NO_ANSWERS
    return _OK if seen.shed else (Support.LIMITED, "only 429s count as shed: response.shed is not declared")


def _metamorphic(seen: Observed) -> Verdict:
    if not seen.prediction:
        return Support.NO, "no prediction read (response.prediction)"
    if not seen.score:
        return Support.LIMITED, "`same` relations only: higher/lower need response.score"
    return _OK


def _flagged(seen: Observed) -> Verdict:
    """Verifiers that count answers flagged for review as handled."""
    if not seen.prediction:
        return Support.NO, "no prediction read (response.prediction)"
    return _OK if seen.review else (Support.LIMITED, "flags for review are not read (response.review)")


def _adversarial(seen: Observed) -> Verdict:
    found = _flagged(seen)
    if found[0] is not Support.NO and not seen.score:
        reason = "; ".join(r for r in (found[1], "the boundary attack's scores need response.score") if r)
        return Support.LIMITED, reason
    return found


def _ood_routing(seen: Observed) -> Verdict:
    if not seen.answered:
        return Support.NO, _NO_ANSWERS
    if seen.tier_on_ladder and seen.review:
        return _OK
    missing = [
        what for what, read in (("the tier", seen.tier_on_ladder), ("review flags", seen.review)) if not read
    ]
    return Support.LIMITED, f"{' and '.join(missing)} not read: fewer ways to count an answer as safe"


def _bad_inputs(seen: Observed) -> Verdict:
    if not seen.answered:
        return Support.NO, _NO_ANSWERS
    return _OK if seen.review else (Support.LIMITED, "a flagged answer is not read (response.review)")


def _canaries(confidence: bool) -> Requirement:
    def requirement(seen: Observed) -> Verdict:
        if not seen.labelled:
            return Support.NO, "needs labelled canaries: a dataset whose lines have a label"
        if not seen.prediction or (confidence and not seen.confidence):
            return Support.NO, "no " + ("confidence" if seen.prediction else "prediction") + " read"
        if not seen.predictions_are_labels:
            return Support.NO, "the predictions read are none of the dataset's labels: they never match"
        return _OK

    return requirement


REQUIREMENTS: dict[str, Requirement] = {
    "availability": _answers,
    "latency": _answers,
    "error_budget": _answers,
    "clean_traffic_unharmed": _answers,
    "steady_state": _steady_state,
    "mttr": _mttr,
    "fallback_engaged": _tiers,
    "fallback_order": _tiers,
    "tier_share": _tiers,
    "mttd": _mttd,
    "breaker": _breaker,
    "drift_detected_within": _drift,
    "gauge": _gauge,
    "load_shedding": _load_shedding,
    "metamorphic": _metamorphic,
    "adversarial_robustness": _adversarial,
    "ood_routing": _ood_routing,
    "bad_input_handling": _bad_inputs,
    "quality": _canaries(confidence=False),
    "calibration": _canaries(confidence=True),
}
"""Verifier type → what it needs of the target (one entry per type of :data:`VERIFIERS`)."""


def verifier_support(seen: Observed) -> list[tuple[str, Support, str]]:
    """Every registered verifier type, whether it would have data on the target, and why not."""
    found = []
    for name in VERIFIERS:
        requirement = REQUIREMENTS.get(name)
        support, why = (
            requirement(seen) if requirement else (Support.LIMITED, "unknown: mlchaos lists no requirement")
        )
        found.append((name, support, why))
    return found
