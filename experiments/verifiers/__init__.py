"""Verifiers: pure functions of what a run recorded. :data:`VERIFIERS` is the registry the loader checks against.

Each verifier module defines its scenario model (a :class:`VerifierSpec` whose ``type`` names it) and a
``verify(recording, spec) -> Verdict`` whose docstring (the module's) states the definition it measures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field

from mlchaos.experiments.verifiers import availability, fallback_engaged, latency, mttr
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
}

if TYPE_CHECKING:
    AnyVerifier = VerifierSpec
else:
    # Built from the registry, so a new verifier module needs no second edit here.
    AnyVerifier = Annotated[Union[tuple(v.spec for v in VERIFIERS.values())], Field(discriminator="type")]  # noqa: UP007
"""Any verifier a scenario may declare, told apart by its ``type``."""


def run_verifier(spec: VerifierSpec, recording: Recording) -> Verdict:
    return VERIFIERS[spec.type].verify(recording, spec)


__all__ = ["VERIFIERS", "AnyVerifier", "Recording", "SteadyState", "Verdict", "Verifier", "run_verifier"]
