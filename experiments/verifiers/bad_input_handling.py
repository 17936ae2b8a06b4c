"""``bad_input_handling``: every corrupted request is rejected cleanly or answered in a flagged, degraded way — and
the service survives them.

Measured over the requests tagged ``corrupt:<mutator>`` (only ``mutators`` if given; only inside fault ``fault``'s
window if given). A corrupted request is *handled* when the target answered it with

- a 4xx whose body is a JSON error (a 4xx with an HTML or empty body is not handled: clients cannot read it), or
- a 2xx it flagged for review, or served from a tier other than ``primary`` (it noticed something was off).

Anything else — a 2xx from the primary model without a flag (the corruption was silently "understood"), a 4xx
without a JSON error, a 5xx, no response at all — is not handled. The verdict holds when the handled share is
≥ ``min_handled`` (default: all of them), 5xx ≤ ``max_5xx`` (default 0), hangs (status 0: timeout, reset,
refused) ≤ ``max_hangs`` (default 0), and the liveness probe stayed ok through the corrupted-inputs faults' windows
(only ``fault``'s when given; the span of the corrupted requests when the journal shows no such fault); with no
liveness sample there the verdict fails: that the service survived was not observed. Measured: the handled
share. The table has one row per mutator.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlchaos.experiments.verifiers.base import Recording, Verdict, VerifierSpec
from mlchaos.experiments.verifiers.phases import answered, fault_end, fault_not_applied
from mlchaos.experiments.verifiers.tagged import (
    client_error,
    counts_table,
    degraded,
    flagged,
    hung,
    json_client_error,
    names,
    server_error,
    tagged,
    within,
)


class BadInputHandling(VerifierSpec):
    type: Literal["bad_input_handling"]
    fault: str | None = Field(
        None, description="Id of the corrupted-inputs fault; default: every corrupt request."
    )
    mutators: tuple[str, ...] = Field(
        (), description="Only these mutators (e.g. nan, truncated_json); empty = all."
    )
    min_handled: float = Field(1.0, ge=0, le=1, description="Least share of corrupt requests handled.")
    max_5xx: int = Field(0, ge=0, description="Most 5xx answers to corrupt requests.")
    max_hangs: int = Field(0, ge=0, description="Most corrupt requests without any response (status 0).")


CORRUPTED_INPUTS = "corrupted_inputs"


def _liveness(recording: Recording, windows: list[tuple[str, float, float]]) -> tuple[int, int]:
    """(liveness samples, failed ones) inside ``windows``."""
    probes = recording.probes
    live = probes[probes["check"] == "live"]
    live = live[within(live["ts"], windows)]
    return len(live), int((~live["ok"].astype(bool)).sum())


def verify(recording: Recording, spec: BadInputHandling) -> Verdict:
    scope = f"'{spec.fault}'" if spec.fault else "the run"
    name = f"bad_input_handling ({spec.fault or 'all'})"
    target = f"≥ {spec.min_handled:.0%} handled, ≤ {spec.max_5xx} 5xx, ≤ {spec.max_hangs} hangs, live"
    requests = tagged(recording.requests, "corrupt", spec.mutators)
    if spec.fault is not None:
        fault = recording.fault(spec.fault)
        if fault is None:
            return fault_not_applied("bad_input_handling", name, target, "%", spec.fault)
        windows = [(fault.fault_id, fault.injected_at, fault_end(recording, fault))]
        requests = requests[within(requests["start"], windows)]
    if requests.empty:
        wanted = ", ".join(spec.mutators) or "any mutator"
        return Verdict(
            "bad_input_handling",
            name,
            False,
            None,
            target,
            "%",
            f"no corrupted request ({wanted}) in {scope}: nothing was measured",
        )
    if spec.fault is None:
        # The corrupted-inputs faults' windows; without any (records from elsewhere), the span of the requests.
        arrived = requests["start"] + requests["latency_ms"] / 1000
        windows = [
            (f.fault_id, f.injected_at, fault_end(recording, f))
            for f in recording.faults
            if f.kind == CORRUPTED_INPUTS
        ] or [("requests", float(requests["start"].min()), float(arrived.max()))]
    json_4xx, bare_4xx = json_client_error(requests), client_error(requests) & ~json_client_error(requests)
    safe_200 = flagged(requests) | degraded(requests)
    unflagged_200 = answered(requests) & ~safe_200
    errors, hangs = server_error(requests), hung(requests)
    handled = json_4xx | safe_200
    handled_share = float(handled.mean())
    live_samples, live_failed = _liveness(recording, windows)
    table = counts_table(
        "Corrupted requests by mutator",
        names(requests).rename("mutator"),
        {
            "4xx JSON": json_4xx,
            "4xx not JSON": bare_4xx,
            "flagged/degraded 200": safe_200,
            "unflagged 200": unflagged_200,
            "5xx": errors,
            "hangs": hangs,
        },
    )
    details: dict[str, float | str | None] = {
        "requests": float(len(requests)),
        "handled": float(handled.sum()),
        "json_4xx": float(json_4xx.sum()),
        "flagged_or_degraded_200": float(safe_200.sum()),
        "unflagged_200": float(unflagged_200.sum()),
        "non_json_4xx": float(bare_4xx.sum()),
        "5xx": float(errors.sum()),
        "hangs": float(hangs.sum()),
        "live_samples": float(live_samples),
        "live_failed": float(live_failed),
    }
    liveness = (
        f"liveness not observed ({live_samples} samples)"
        if live_samples == 0
        else f"live in {live_samples - live_failed}/{live_samples} samples"
    )
    checks = [
        (handled_share >= spec.min_handled, f"{handled_share:.1%} handled (≥ {spec.min_handled:.0%})"),
        (int(errors.sum()) <= spec.max_5xx, f"{int(errors.sum())} 5xx (≤ {spec.max_5xx})"),
        (int(hangs.sum()) <= spec.max_hangs, f"{int(hangs.sum())} hangs (≤ {spec.max_hangs})"),
        (live_samples > 0 and live_failed == 0, liveness),
    ]
    unhandled = sorted(set(names(requests)[~handled]))
    explanation = f"{len(requests)} corrupted requests in {scope}: " + "; ".join(
        f"{'✓' if ok else '✗'} {text}" for ok, text in checks
    )
    if unhandled:
        explanation += "; mutators not always handled: " + ", ".join(unhandled)
    return Verdict(
        "bad_input_handling",
        name,
        all(ok for ok, _ in checks),
        handled_share * 100,
        target,
        "%",
        explanation,
        details,
        table=table,
    )
