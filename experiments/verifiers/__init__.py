"""Verifiers: pure functions of what a run recorded. :data:`VERIFIERS` is the registry the loader checks against.

Each verifier module defines its scenario model (a :class:`VerifierSpec` whose ``type`` names it) and a
``verify(recording, spec) -> Verdict`` whose docstring (the module's) states the definition it measures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field

from mlchaos.experiments.verifiers import (
    adversarial_robustness,
    availability,
    bad_input_handling,
    breaker,
    calibration,
    clean_traffic_unharmed,
    drift_detected_within,
    error_budget,
    fallback_engaged,
    fallback_order,
    gauge,
    latency,
    load_shedding,
    metamorphic,
    mttd,
    mttr,
    ood_routing,
    quality,
    steady_state_holds,
    tier_share,
)
from mlchaos.experiments.verifiers.base import Recording, Verdict, VerifierSpec
from mlchaos.experiments.verifiers.steady_state import SteadyState


@dataclass(frozen=True)
class Verifier:
    spec: type[VerifierSpec]
    verify: Callable[[Recording, Any], Verdict]


VERIFIERS: dict[str, Verifier] = {
    "availability": Verifier(availability.Availability, availability.verify),
    "fallback_engaged": Verifier(fallback_engaged.FallbackEngaged, fallback_engaged.verify),
    "latency": Verifier(latency.Latency, latency.verify),
    "mttr": Verifier(mttr.Mttr, mttr.verify),
    "mttd": Verifier(mttd.Mttd, mttd.verify),
    "breaker": Verifier(breaker.Breaker, breaker.verify),
    "tier_share": Verifier(tier_share.TierShare, tier_share.verify),
    "fallback_order": Verifier(fallback_order.FallbackOrder, fallback_order.verify),
    "error_budget": Verifier(error_budget.ErrorBudget, error_budget.verify),
    "quality": Verifier(quality.Quality, quality.verify),
    "calibration": Verifier(calibration.Calibration, calibration.verify),
    "steady_state": Verifier(steady_state_holds.SteadyStateHolds, steady_state_holds.verify),
    "load_shedding": Verifier(load_shedding.LoadShedding, load_shedding.verify),
    "bad_input_handling": Verifier(bad_input_handling.BadInputHandling, bad_input_handling.verify),
    "clean_traffic_unharmed": Verifier(
        clean_traffic_unharmed.CleanTrafficUnharmed, clean_traffic_unharmed.verify
    ),
    "adversarial_robustness": Verifier(
        adversarial_robustness.AdversarialRobustness, adversarial_robustness.verify
    ),
    "ood_routing": Verifier(ood_routing.OodRouting, ood_routing.verify),
    "drift_detected_within": Verifier(
        drift_detected_within.DriftDetectedWithin, drift_detected_within.verify
    ),
    "metamorphic": Verifier(metamorphic.Metamorphic, metamorphic.verify),
    "gauge": Verifier(gauge.Gauge, gauge.verify),
}

if TYPE_CHECKING:
    AnyVerifier = VerifierSpec
else:
    # Built from the registry, so a new verifier module needs no second edit here.
    AnyVerifier = Annotated[Union[tuple(v.spec for v in VERIFIERS.values())], Field(discriminator="type")]  # noqa: UP007
"""Any verifier a scenario may declare, told apart by its ``type``."""


def run_verifier(spec: VerifierSpec, recording: Recording) -> Verdict:
    return replace(VERIFIERS[spec.type].verify(recording, spec), weight=spec.weight)


def resilience_score(verdicts: list[Verdict]) -> float | None:
    """The weighted share of verdicts that held, 0..1 (``None`` without verdicts). Never shown without them."""
    total = sum(v.weight for v in verdicts)
    return sum(v.weight for v in verdicts if v.passed) / total if total else None


__all__ = [
    "VERIFIERS",
    "AnyVerifier",
    "Recording",
    "SteadyState",
    "Verdict",
    "Verifier",
    "resilience_score",
    "run_verifier",
]
