"""What a verifier needs of a target's data, judged on what ``mlchaos target check`` saw of it.

A verifier with nothing valid to measure fails; its ``needs`` says so before any run — whether it would have its
data on a target, and why not — from one look at the target (:class:`Observed`). Each verifier's module states its
own (``VERIFIER = Verifier(Spec, verify, needs=...)``); the needs several verifiers share are here.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass


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


Supported = tuple[Support, str]
"""Whether a verifier would have its data, and why not (empty when it would)."""
Needs = Callable[[Observed], Supported]

OK: Supported = (Support.YES, "")
NO_ANSWERS = "no request got an answer"
NO_TIER = "no answer's tier was read on the ladder (response.tier, tiers)"


def answers(seen: Observed) -> Supported:
    """Verifiers that count statuses and latencies."""
    return OK if seen.answered else (Support.NO, NO_ANSWERS)


def tiers(seen: Observed) -> Supported:
    """Verifiers that count which tier answered."""
    if not seen.answered:
        return Support.NO, NO_ANSWERS
    return OK if seen.tier_on_ladder else (Support.NO, NO_TIER)


def steady_state(seen: Observed) -> Supported:
    """The steady-state hypothesis: availability and p99 from statuses, tier shares from tiers."""
    if not seen.answered:
        return Support.NO, NO_ANSWERS
    return OK if seen.tier_on_ladder else (Support.LIMITED, "availability and p99 only: " + NO_TIER)


def flagged(seen: Observed) -> Supported:
    """Verifiers that count answers flagged for review as handled."""
    if not seen.prediction:
        return Support.NO, "no prediction read (response.prediction)"
    return OK if seen.review else (Support.LIMITED, "flags for review are not read (response.review)")


def canaries(confidence: bool) -> Needs:
    """Verifiers that compare predictions (and ``confidence``: their confidences) with canaries' labels."""

    def needs(seen: Observed) -> Supported:
        if not seen.labelled:
            return Support.NO, "needs labelled canaries: a dataset whose lines have a label"
        if not seen.prediction or (confidence and not seen.confidence):
            return Support.NO, "no " + ("confidence" if seen.prediction else "prediction") + " read"
        if not seen.predictions_are_labels:
            return Support.NO, "the predictions read are none of the dataset's labels: they never match"
        return OK

    return needs
