"""Adversarial samples generated against the target as a black box, before the load phase replays them.

:mod:`~mlchaos.experiments.attacks.boundary` is the search (pure: it only sees a ``query`` callable);
:mod:`~mlchaos.experiments.attacks.target` turns the target's HTTP endpoint into such a callable.
"""

from mlchaos.experiments.attacks.boundary import (
    AdversarialSample,
    Answer,
    AttackResult,
    FeatureRange,
    Query,
    QueryFailedError,
    boundary_attack,
)

__all__ = [
    "AdversarialSample",
    "Answer",
    "AttackResult",
    "FeatureRange",
    "Query",
    "QueryFailedError",
    "boundary_attack",
]
