"""``metamorphic``: the scenario's declared metamorphic relations change the answer only the way they are declared
to.

Measured over the requests tagged ``metamorphic:<relation name>`` (only ``relations`` if given), paired by
``pair``: the original (``expected`` = ``original``) and the transformed request (``expected`` = the declared
effect, ``same``/``higher``/``lower``: everything the verdict needs is in the records, not in the scenario). A
pair is *judged* when both sides were answered with a 2xx by the same tier (two tiers are two models: comparing
their scores says nothing about the transformation); then it is a **violation** when

- ``same``: the predictions differ, or both scores are known and differ by more than ``tolerance``;
- ``higher``: the transformed score is below the original's by more than ``tolerance``;
- ``lower``: the transformed score is above the original's by more than ``tolerance``.

Pairs not judged are reported, not counted as violations: *incomplete* (a side missing or not a 2xx — a 4xx, a
5xx, no answer), *mixed tiers*, or *no score* (a ``higher``/``lower`` pair without both scores). The verdict holds
when there is at least one judged pair and violations ≤ ``max_violations``. Measured: the violations. The table
has one row per declared relation (and effect).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from mlchaos.experiments.verifiers import needs
from mlchaos.experiments.verifiers.advice import Way, WaysOfFailing
from mlchaos.experiments.verifiers.base import Cell, OutcomeTable, Recording, Verdict, Verifier, VerifierSpec
from mlchaos.experiments.verifiers.needs import Observed, Support, Supported
from mlchaos.experiments.verifiers.phases import answered
from mlchaos.experiments.verifiers.tagged import names, tagged

ORIGINAL = "original"
EFFECTS = ("same", "higher", "lower")
"""What a transformed request's ``expected`` says (an original's says ``original``)."""
COLUMNS = (
    "relation",
    "expect",
    "pairs",
    "judged",
    "violations",
    "incomplete",
    "mixed tiers",
    "no score",
)


class Failing(WaysOfFailing):
    UNMEASURED = Way(
        "no pair could be judged",
        "the measurement: no metamorphic pair was judged ({not_judged}) — both sides need a 2xx from the same "
        "tier (and scores for higher/lower): check that the pairs fit the service's request declaration",
    )
    VIOLATIONS = Way(
        "the answers broke their declared relations",
        "{violations} pairs broke their declared relation ({relations}): the model's answer moves with a change "
        "that should not matter, or the wrong way — look at how the transformed fields are preprocessed and "
        "at the model's sensitivity to them",
    )


class Metamorphic(VerifierSpec):
    type: Literal["metamorphic"]
    relations: tuple[str, ...] = Field((), description="Only the relations of these names; empty = all.")
    max_violations: int = Field(
        0, ge=0, description="Most pairs whose answers broke their declared relation."
    )
    tolerance: float = Field(
        1e-6, ge=0, description="Score difference below which two scores count as equal."
    )


def pairs_of(requests: pd.DataFrame) -> pd.DataFrame:
    """One row per pair: the transformed request's columns, the original's with suffix ``_o`` (NaN for a side
    that is missing — an original whose transformation never went out expects ``?``), and ``relation``, the
    relation's name from the tag."""
    sides = requests[requests["pair"].notna()]
    columns = ["pair", "input", "status", "tier", "prediction", "score"]
    originals = sides[sides["expected"] == ORIGINAL].drop_duplicates("pair")[columns]
    transformed = sides[sides["expected"].isin(EFFECTS)].drop_duplicates("pair")[[*columns, "expected"]]
    joined = transformed.merge(originals, on="pair", how="outer", suffixes=("", "_o"), sort=True)
    joined["input"] = joined["input"].where(joined["input"].notna(), joined["input_o"])
    joined["expected"] = joined["expected"].where(joined["expected"].notna(), "?")
    joined["relation"] = names(joined).to_numpy()
    return joined


def judge(pairs: pd.DataFrame, tolerance: float) -> dict[str, pd.Series]:
    """Boolean columns, aligned with ``pairs``: judged, violation, incomplete, mixed tiers, no score."""
    both = answered(pairs) & pairs["status_o"].between(200, 299)
    mixed = both & (pairs["tier"] != pairs["tier_o"])
    score = pd.to_numeric(pairs["score"], errors="coerce").to_numpy(dtype=float)
    score_o = pd.to_numeric(pairs["score_o"], errors="coerce").to_numpy(dtype=float)
    delta = pd.Series(score - score_o, index=pairs.index)
    relation = pairs["expected"]
    scored = delta.notna()
    no_score = both & ~mixed & relation.isin(["higher", "lower"]) & ~scored
    judged = both & ~mixed & ~no_score
    same_broken = (pairs["prediction"] != pairs["prediction_o"]) | (scored & (delta.abs() > tolerance))
    violation = judged & (
        ((relation == "same") & same_broken)
        | ((relation == "higher") & (delta < -tolerance))
        | ((relation == "lower") & (delta > tolerance))
    )
    return {
        "judged": judged,
        "violation": violation,
        "incomplete": ~both,
        "mixed": mixed,
        "no_score": no_score,
    }


def _table(pairs: pd.DataFrame, outcome: dict[str, pd.Series]) -> OutcomeTable:
    frame = pd.DataFrame({key: mask.to_numpy(dtype=bool) for key, mask in outcome.items()})
    frame["relation"] = pairs["relation"].to_numpy()
    frame["expect"] = pairs["expected"].to_numpy()
    frame["pairs"] = 1
    sums = frame.groupby(["relation", "expect"], sort=True).sum(numeric_only=True)
    rows: list[tuple[Cell, ...]] = [
        (
            str(relation),
            str(expect),
            *(int(count) for count in counts),
        )
        for (relation, expect), *counts in sums[
            ["pairs", "judged", "violation", "incomplete", "mixed", "no_score"]
        ].itertuples(name=None)
    ]
    return OutcomeTable("Metamorphic pairs by relation", COLUMNS, tuple(rows))


def verify(recording: Recording, spec: Metamorphic) -> Verdict:
    name = f"metamorphic ({', '.join(spec.relations) or 'all'})"
    target = f"≤ {spec.max_violations} violations"
    requests = tagged(recording.requests, "metamorphic", spec.relations)
    pairs = pairs_of(requests)
    if pairs.empty:
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="violations",
            explanation="no metamorphic pair was sent: nothing was measured",
            advice=Failing.UNMEASURED.advise(not_judged="none sent"),
        )
    outcome = judge(pairs, spec.tolerance)
    judged, violations = int(outcome["judged"].sum()), int(outcome["violation"].sum())
    incomplete, mixed, no_score = (int(outcome[key].sum()) for key in ("incomplete", "mixed", "no_score"))
    details: dict[str, float | str | None] = {
        "pairs": float(len(pairs)),
        "judged": float(judged),
        "violations": float(violations),
        "incomplete": float(incomplete),
        "mixed_tiers": float(mixed),
        "no_score": float(no_score),
    }
    table = _table(pairs, outcome)
    not_judged = f"{incomplete} incomplete, {mixed} mixed tiers, {no_score} without scores"
    if judged == 0:
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="violations",
            explanation=f"none of {len(pairs)} metamorphic pairs could be judged ({not_judged}): nothing was measured",
            details=details,
            table=table,
            advice=Failing.UNMEASURED.advise(not_judged=not_judged),
        )
    broken = sorted(set(pairs["relation"][outcome["violation"]]))
    passed = violations <= spec.max_violations
    explanation = (
        f"{violations} of {judged} judged pairs broke their relation (≤ {spec.max_violations} allowed)"
        + (f": {', '.join(broken)}" if broken else "")
        + f"; not judged: {not_judged}"
    )
    details["violation_rate"] = float(np.float64(violations) / judged)
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=passed,
        measured=float(violations),
        target=target,
        unit="violations",
        explanation=explanation,
        details=details,
        table=table,
        advice=None
        if passed
        else Failing.VIOLATIONS.advise(violations=violations, relations=", ".join(broken)),
    )


def data_needs(seen: Observed) -> Supported:
    """What this verifier needs of the target's data (``mlchaos target check``)."""
    if not seen.prediction:
        return Support.NO, "no prediction read (response.prediction)"
    if not seen.score:
        return Support.LIMITED, "`same` relations only: higher/lower need response.score"
    return needs.OK


VERIFIER = Verifier(Metamorphic, verify, needs=data_needs, ways=Failing)
