"""Failures ranked by the error budget they burned: what to fix first, across the scenarios of a suite.

Each verdict carries the budget burned in the window it judged (:class:`~mlchaos.experiments.verifiers.base.
BudgetBurn`: bad / ((1 − slo) × requests), the SLO being the scenario's steady-state ``min_availability``). Failures
with that measure come first, the most burned first (a window whose SLO allows no bad request and had some ranks
above every finite burn); failures without one — no window (nothing applied, tagged requests across the run) or no
request in it — come after, by severity: the verifier's weight in the score, highest first. Ties keep the report's
order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mlchaos.experiments.verifiers.base import Verdict


@dataclass(frozen=True)
class RankedFailure:
    scenario: str
    verdict: Verdict
    run: int
    """The position of its run among those ranked (0 = the first)."""

    @property
    def burned(self) -> float | None:
        """The budget burned (1.0 = all of it; ``math.inf``: the SLO allowed nothing); ``None``: no SLO measure."""
        budget = self.verdict.budget
        if budget is None:
            return None
        return math.inf if budget.burned is None else budget.burned


def rank_failures(runs: Iterable[tuple[str, Sequence[Verdict]]]) -> list[RankedFailure]:
    """Every failed verdict of ``runs`` (scenario name, its verdicts), ranked as the module docstring says."""
    failures = [
        RankedFailure(name, v, index)
        for index, (name, verdicts) in enumerate(runs)
        for v in verdicts
        if not v.passed
    ]

    def key(failure: RankedFailure) -> tuple[int, float]:
        burned = failure.burned
        return (0, -burned) if burned is not None else (1, -failure.verdict.weight)

    return sorted(failures, key=key)  # stable: ties keep the report's order
