"""``clean_traffic_unharmed``: while bad inputs flow, the good ones are served as well as before.

Measured over the *clean* requests (no ``input`` tag — and corrupted requests that the service's input contract
allows, ``expected`` = ``accept``, such as an extra field a lenient service ignores) that started inside the
input-fault windows: the windows of the faults named in ``faults``, else of every input fault (corrupted,
adversarial, shifted, metamorphic inputs); a run without any falls back to its fault phase.

- availability: the share of them answered with a 2xx ≥ ``min_availability`` (a clean request rejected with a
  4xx, a 429 included, was harmed too — it was valid);
- latency: their p99 ≤ ``max_p99_ms`` and/or ≤ ``max_p99_ratio`` × the p99 of clean baseline requests. With
  neither given, the steady-state hypothesis' ``max_p99_ms`` is used, else a ratio of 2.

Measured: the availability. The explanation names both numbers and the bound(s) they were held to.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from mlchaos.experiments.inputs.contract import Expectation
from mlchaos.experiments.verifiers import advice, needs
from mlchaos.experiments.verifiers.advice import Way, WaysOfFailing
from mlchaos.experiments.verifiers.base import (
    Cell,
    Judged,
    OutcomeTable,
    Recording,
    Verdict,
    Verifier,
    VerifierSpec,
)
from mlchaos.experiments.verifiers.phases import answered, fault_not_applied, phase_judged, requests_in
from mlchaos.experiments.verifiers.tagged import clean, input_fault_windows, within

DEFAULT_RATIO = 2.0
ACCEPT = Expectation.ACCEPT.value


class Failing(WaysOfFailing):
    FAULT_NOT_APPLIED = advice.FAULT_NOT_APPLIED
    UNMEASURED = Way(
        "no clean request during the input faults",
        "the measurement: no clean request started during {scope} — the load sent only tagged inputs then; mix "
        "clean traffic in (the fault's share of tagged requests) to judge it",
    )
    CLEAN_REFUSED = Way(
        "valid requests were refused or failed",
        "{refused} valid requests were not served while bad inputs flowed: validation refuses valid input, or the "
        "bad inputs use up something shared (workers, a rate limit) — look at what the refused requests got",
    )
    CLEAN_SLOWED = Way(
        "valid requests slowed down",
        "valid requests reached p99 {p99} ms while bad inputs flowed: the bad ones are expensive before they are "
        "refused (parsed, scored, retried) — refuse them earlier, or isolate their handling",
    )
    NO_BASELINE = Way(
        "no clean baseline to compare the p99 with",
        "the measurement: no clean request answered in the baseline, so the p99 ratio could not be judged — check "
        "the baseline phase's traffic, or bound the p99 in milliseconds (max_p99_ms)",
    )


class CleanTrafficUnharmed(VerifierSpec):
    type: Literal["clean_traffic_unharmed"]
    faults: tuple[str, ...] = Field((), description="Ids of the input faults; empty = every input fault.")
    min_availability: float = Field(
        0.99, ge=0, le=1, description="Least share of clean requests answered 2xx."
    )
    max_p99_ms: float | None = Field(None, gt=0, description="Largest p99 of clean requests, in ms.")
    max_p99_ratio: float | None = Field(
        None, gt=0, description="Largest p99 of clean requests as a multiple of the clean baseline p99."
    )


def _clean(requests: pd.DataFrame) -> pd.DataFrame:
    """The clean requests, and the corrupted ones the input contract allows: both must be served."""
    if "expected" not in requests.columns:
        return clean(requests)
    allowed = requests["input"].str.startswith("corrupt:", na=False) & requests["expected"].eq(ACCEPT)
    return requests[requests["input"].isna() | allowed]


def _p99(latency_ms: np.ndarray) -> float | None:
    return float(np.percentile(latency_ms, 99)) if len(latency_ms) else None


def _per_window(recording: Recording, windows: list[tuple[str, float, float]]) -> OutcomeTable:
    rows: list[tuple[Cell, ...]] = []
    for fault_id, start, end in windows:
        requests = _clean(recording.requests_between(start, end))
        ok = answered(requests)
        rows.append(
            (
                fault_id,
                len(requests),
                int((~ok).sum()),
                float(ok.mean()) * 100 if len(requests) else None,
                _p99(requests["latency_ms"].to_numpy(dtype=float)),
            )
        )
    return OutcomeTable(
        "Clean requests per input fault",
        ("fault", "clean requests", "not served", "availability %", "p99 ms"),
        tuple(rows),
    )


def verify(recording: Recording, spec: CleanTrafficUnharmed) -> Verdict:
    name = f"clean_traffic_unharmed ({', '.join(spec.faults) or 'input faults'})"
    missing = [fault_id for fault_id in spec.faults if recording.fault(fault_id) is None]
    if missing:
        return fault_not_applied(spec.type, name, "availability and p99 held", "%", missing[0])
    windows = input_fault_windows(recording, spec.faults)
    scope = "the input-fault windows"
    if windows:
        requests = _clean(recording.requests)
        requests = requests[within(requests["start"], windows)]
    else:
        requests, scope = (
            _clean(requests_in(recording, "fault")),
            "the fault phase (no input fault was applied)",
        )
    max_ms, ratio = spec.max_p99_ms, spec.max_p99_ratio
    if max_ms is None and ratio is None:
        max_ms = recording.steady_state.max_p99_ms
        ratio = None if max_ms is not None else DEFAULT_RATIO
    baseline = clean(requests_in(recording, "baseline"))
    baseline_p99 = _p99(baseline[answered(baseline)]["latency_ms"].to_numpy(dtype=float))
    bounds = [f"≤ {max_ms:g} ms"] if max_ms is not None else []
    if ratio is not None:
        bounds.append(f"≤ {ratio:g}× baseline p99")
    target = f"availability ≥ {spec.min_availability:.2%}, p99 {' and '.join(bounds)}"
    if requests.empty:
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="%",
            explanation=f"no clean request during {scope}: nothing was measured",
            advice=Failing.UNMEASURED.advise(scope=scope),
        )
    ok = answered(requests)
    availability = float(ok.mean())
    p99 = _p99(requests["latency_ms"].to_numpy(dtype=float))
    assert p99 is not None  # requests is not empty
    checks = [
        (
            availability >= spec.min_availability,
            f"availability {availability:.2%} (≥ {spec.min_availability:.2%}, {int((~ok).sum())} not served)",
            Failing.CLEAN_REFUSED,
        )
    ]
    if max_ms is not None:
        checks.append((p99 <= max_ms, f"p99 {p99:.0f} ms (≤ {max_ms:g} ms)", Failing.CLEAN_SLOWED))
    if ratio is not None:
        if baseline_p99 is None:
            text = f"p99 {p99:.0f} ms, but no clean baseline request to compare it with"
            checks.append((False, text, Failing.NO_BASELINE))
        else:
            limit = ratio * baseline_p99
            checks.append(
                (
                    p99 <= limit,
                    f"p99 {p99:.0f} ms (≤ {ratio:g}× baseline {baseline_p99:.0f} ms = {limit:.0f} ms)",
                    Failing.CLEAN_SLOWED,
                )
            )
    way = next((way for good, _, way in checks if not good), None)
    details: dict[str, float | str | None] = {
        "requests": float(len(requests)),
        "availability": availability,
        "p99_ms": p99,
        "baseline_p99_ms": baseline_p99,
    }
    explanation = f"{len(requests)} clean requests during {scope}: " + "; ".join(
        f"{'✓' if good else '✗'} {text}" for good, text, _ in checks
    )
    judged = (
        Judged(min(w[1] for w in windows), max(w[2] for w in windows))
        if windows
        else phase_judged(recording, "fault")
    )
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=all(good for good, _, _ in checks),
        measured=availability * 100,
        target=target,
        unit="%",
        explanation=explanation,
        details=details,
        table=_per_window(recording, windows) if windows else None,
        advice=None if way is None else way.advise(refused=int((~ok).sum()), p99=p99),
        judged=judged,
    )


VERIFIER = Verifier(CleanTrafficUnharmed, verify, needs=needs.answers, ways=Failing)
