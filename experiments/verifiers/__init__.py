"""Verifiers: pure functions of what a run recorded. The registry the loader checks against is built from them.

Each verifier module defines its scenario model (a :class:`VerifierSpec` whose ``type`` literal is its name, written
nowhere else), a ``verify(recording, spec) -> Verdict`` whose docstring (the module's) states the definition it
measures, and ``VERIFIER = Verifier(Spec, verify)``. Every module here defining ``VERIFIER`` is registered; other
packages add verifiers through the ``mlchaos.verifiers`` entry point group (:mod:`mlchaos.experiments.registry`).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field

from mlchaos.experiments.registry import VERIFIERS_GROUP, Registered, build_registry
from mlchaos.experiments.verifiers.advice import fallback_advice
from mlchaos.experiments.verifiers.base import Recording, Verdict, Verifier, VerifierSpec
from mlchaos.experiments.verifiers.phases import budget_burn
from mlchaos.experiments.verifiers.steady_state import SteadyState

_KINDS: Mapping[str, Registered[VerifierSpec, Verifier[Any]]] = build_registry(
    sys.modules[__name__], "VERIFIER", VERIFIERS_GROUP, spec_base=VerifierSpec, requires=("spec", "verify")
)


def verifier_kinds() -> Mapping[str, Registered[VerifierSpec, Verifier[Any]]]:
    """Every verifier kind a scenario may declare, by name (sorted): its spec model (``.spec``), its
    :class:`Verifier` (``.implementation``), the module defining it (whose docstring states what it measures) and
    the package that registered it (``None``: mlchaos)."""
    return _KINDS


VERIFIERS: Mapping[str, Verifier[Any]] = {name: kind.implementation for name, kind in _KINDS.items()}
"""Verifier kind → its :class:`Verifier`."""

if TYPE_CHECKING:
    AnyVerifier = VerifierSpec
else:
    # Built from the registry, so a new verifier module (or package) needs no second edit here.
    AnyVerifier = Annotated[Union[tuple(kind.spec for kind in _KINDS.values())], Field(discriminator="type")]  # noqa: UP007
"""Any verifier a scenario may declare, told apart by its ``type``."""


def run_verifier(spec: VerifierSpec, recording: Recording) -> Verdict:
    """``spec``'s verdict on ``recording``, with its weight, the error budget burned in the window it judged, and,
    failing, advice — the verifier's own, or (naming no way) its ``UNMEASURED`` or the generic advice."""
    verifier = VERIFIERS[spec.type]
    return complete(verifier.verify(recording, spec), recording, verifier, weight=spec.weight)


def complete(
    verdict: Verdict, recording: Recording, verifier: Verifier[Any], *, weight: float = 1.0
) -> Verdict:
    """``verdict`` with what every verdict carries besides the verifier's judgement (see :func:`run_verifier`)."""
    advice = verdict.advice
    if verdict.passed:
        advice = None  # advice is on what to fix; a verifier's note on a passing verdict would mislead
    elif advice is None:
        advice = fallback_advice(verifier.ways, verdict.measured)
    return replace(verdict, weight=weight, advice=advice, budget=budget_burn(recording, verdict.judged))


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
    "complete",
    "resilience_score",
    "run_verifier",
    "verifier_kinds",
]
