"""``calibration``: expected calibration error (ECE) of the answers' ``confidence`` on canary requests.

Canaries (see :mod:`~mlchaos.experiments.verifiers.canaries`) of ``phase`` and ``tiers`` that reported a
confidence are put in ``bins`` equal-width bins over [0, 1] (a confidence of exactly 1 goes in the last bin;
values outside [0, 1] are clipped). With ``acc_b`` the share correct and ``conf_b`` the mean confidence of bin
``b``, ``n_b`` its size and ``N`` the total::

    ECE = Σ_b |acc_b − conf_b| × n_b / N

0 is perfectly calibrated; a model that says 0.9 and is right half the time contributes 0.4. Pass when
ECE ≤ ``max_ece``. A fallback tier that keeps reporting the primary model's confidence shows up here.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from mlchaos.experiments.verifiers import needs
from mlchaos.experiments.verifiers.advice import Way, WaysOfFailing
from mlchaos.experiments.verifiers.base import Recording, Verdict, Verifier
from mlchaos.experiments.verifiers.canaries import CanarySpec, breakdown, canaries, select, worst_tier
from mlchaos.experiments.verifiers.phases import phase_judged


class Failing(WaysOfFailing):
    UNMEASURED = Way(
        "too few answered canaries with a confidence",
        "the measurement: only {canaries} answered canaries with a confidence in {scope} — check that the dataset "
        "carries labels and that the target declares where its answers say their confidence",
    )
    OVERCONFIDENT = Way(
        "more confident than right",
        "answers claim {confidence} confidence but are right {accuracy} of the time (worst: {worst}): a degraded "
        "tier reporting the main model's confidence, or a model that needs recalibrating (temperature scaling) — "
        "confidence-based routing downstream trusts these numbers",
    )
    UNDERCONFIDENT = Way(
        "less confident than right",
        "answers claim {confidence} confidence but are right {accuracy} of the time (worst: {worst}): confidence "
        "is understated — answers that could be served are routed to review; recalibrate that tier's scores",
    )


class Calibration(CanarySpec):
    type: Literal["calibration"]
    bins: int = Field(10, ge=1, le=1000, description="Number of equal-width confidence bins.")
    max_ece: float = Field(0.1, ge=0, le=1, description="Largest acceptable expected calibration error.")


def bin_table(frame: pd.DataFrame, bins: int) -> pd.DataFrame:
    """Per non-empty bin: its index, size ``n``, ``accuracy`` and mean ``confidence``."""
    confidence = frame["confidence"].to_numpy(dtype=float).clip(0.0, 1.0)
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    table = pd.DataFrame(
        {"bin": index, "correct": frame["correct"].to_numpy(dtype=float), "conf": confidence}
    )
    grouped = table.groupby("bin")
    return pd.DataFrame(
        {"n": grouped.size(), "accuracy": grouped["correct"].mean(), "confidence": grouped["conf"].mean()}
    )


def ece(frame: pd.DataFrame, bins: int) -> float:
    table = bin_table(frame, bins)
    gaps = (table["accuracy"] - table["confidence"]).abs()
    return float((gaps * table["n"]).sum() / table["n"].sum())


def verify(recording: Recording, spec: Calibration) -> Verdict:
    name = f"calibration ({spec.scope()})"
    target = f"ECE ≤ {spec.max_ece:g}"
    every = canaries(recording)
    every = every[every["confidence"].notna()]
    details = breakdown(every, lambda group: ece(group, spec.bins), "ece")
    chosen = select(every, spec)
    details["canaries"] = float(len(chosen))
    if len(chosen) < spec.min_canaries:
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="ECE",
            explanation=f"too few canaries: {len(chosen)} answered canaries with a confidence in {spec.scope()} "
            f"(need ≥ {spec.min_canaries})",
            details=details,
            advice=Failing.UNMEASURED.advise(canaries=len(chosen), scope=spec.scope()),
            judged=phase_judged(recording, spec.phase),
        )
    table = bin_table(chosen, spec.bins)
    for index, n, acc, conf in zip(
        table.index, table["n"], table["accuracy"], table["confidence"], strict=True
    ):
        low = int(index) / spec.bins
        details[f"bin.{low:.2f}-{low + 1 / spec.bins:.2f}"] = (
            f"n={int(n)} accuracy={acc:.3f} confidence={conf:.3f}"
        )
    value = ece(chosen, spec.bins)
    passed = value <= spec.max_ece
    mean_conf, accuracy = float(chosen["confidence"].clip(0, 1).mean()), float(chosen["correct"].mean())
    explanation = (
        f"ECE {value:.3f} over {len(chosen)} canaries in {spec.scope()} ({spec.bins} bins; mean confidence "
        f"{mean_conf:.3f}, accuracy {accuracy:.3f}) — {'within' if passed else 'over'} {spec.max_ece:g}"
    )
    details.update({"mean_confidence": mean_conf, "accuracy": accuracy})
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=passed,
        measured=value,
        target=target,
        unit="ECE",
        explanation=explanation,
        details=details,
        advice=None
        if passed
        else (Failing.OVERCONFIDENT if mean_conf > accuracy else Failing.UNDERCONFIDENT).advise(
            confidence=mean_conf,
            accuracy=accuracy,
            worst=worst_tier(chosen, lambda group: ece(group, spec.bins), highest=True),
        ),
        judged=phase_judged(recording, spec.phase),
    )


VERIFIER = Verifier(Calibration, verify, needs=needs.canaries(confidence=True), ways=Failing)
