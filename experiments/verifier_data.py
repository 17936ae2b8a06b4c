"""Which verifiers would have data on a target, from what ``mlchaos target check`` saw of it.

A verifier with nothing valid to measure fails (docs/glossary.md); this table says so before any run, for every
verifier of the registry, from what each states it needs (its ``needs``: :mod:`~mlchaos.experiments.verifiers.needs`).
"""

from __future__ import annotations

from mlchaos.experiments.verifiers import VERIFIERS
from mlchaos.experiments.verifiers.needs import Observed, Support

__all__ = ["Observed", "Support", "verifier_support"]


def verifier_support(seen: Observed) -> list[tuple[str, Support, str]]:
    """Every registered verifier type, whether it would have data on the target, and why not."""
    found = []
    for name, verifier in VERIFIERS.items():
        support, why = (
            verifier.needs(seen)
            if verifier.needs
            else (Support.LIMITED, "unknown: its verifier does not say")
        )
        found.append((name, support, why))
    return found
