"""``bad_input_handling``: every corrupted request gets what the service's input contract says it should — a clean
rejection, or an answer where the contract allows one — and the service survives them.

Measured over the requests tagged ``corrupt:<mutator>`` (only ``mutators`` if given; only inside fault ``fault``'s
window if given). Each carries what the target's input contract expects of it (``expected``, set when the load
built it; see :mod:`mlchaos.experiments.inputs.mutators`). A corrupted request is *handled* when

- it must be refused (``reject``): the target answered a 4xx whose body is a JSON error (a 4xx with an HTML or
  empty body is not handled: clients cannot read it), or a 2xx it flagged for review or served from a tier below
  the best of its ladder (it noticed something was off);
- the contract allows it (``accept``: an extra field a lenient service ignores, say): it is judged as clean
  traffic — it must be answered with a 2xx; a refusal is not handled. These are counted in the table's
  "allowed by contract" column and named in the explanation;
- the contract does not say (``either``): a JSON 4xx or any 2xx.

A 5xx or no response at all (status 0: timeout, reset, refused) is never handled. Records without ``expected``
(runs made before input contracts) are judged as ``reject``. The verdict holds when the handled share is
≥ ``min_handled`` (default: all of them), 5xx ≤ ``max_5xx`` (default 0), hangs ≤ ``max_hangs`` (default 0), and the
liveness probe stayed ok through the corrupted-inputs faults' windows (only ``fault``'s when given; the span of the
corrupted requests when the journal shows no such fault); with no liveness sample there the verdict fails: that
the service survived was not observed. Measured: the handled share. The table has one row per mutator, with what
the contract expects of it.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import Field

from mlchaos.experiments.inputs.contract import Expectation
from mlchaos.experiments.verifiers import advice, needs
from mlchaos.experiments.verifiers.advice import Way, WaysOfFailing
from mlchaos.experiments.verifiers.base import (
    Judged,
    OutcomeTable,
    Recording,
    Verdict,
    Verifier,
    VerifierSpec,
)
from mlchaos.experiments.verifiers.needs import Observed, Support, Supported
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


class Failing(WaysOfFailing):
    """In the order they are named when several conditions fail: a crash explains the rest."""

    FAULT_NOT_APPLIED = advice.FAULT_NOT_APPLIED
    UNMEASURED = Way(
        "no corrupted request was sent",
        "the measurement: no corrupted request ({mutators}) was sent in {scope} — check the corrupted-inputs "
        "fault's window and mutators in the scenario; the service was not judged",
    )
    SERVER_ERRORS = Way(
        "corrupted requests got 5xx",
        "{errors} corrupted requests got a 5xx (mutators not handled: {mutators}): bad input reaches code that "
        "crashes on it — validate those fields at the edge and answer a 4xx with a JSON error",
    )
    HANGS = Way(
        "corrupted requests got no response",
        "{hangs} corrupted requests got no response (mutators not handled: {mutators}): parsing or scoring hangs "
        "on them — bound the request's size and the time spent parsing it",
    )
    NOT_LIVE = Way(
        "the service stopped answering its liveness probe",
        "the liveness probe failed {live_failed} times while corrupted requests flowed: bad input crashes or "
        "blocks the process — look at its restarts and at what {mutators} does to the request handler",
    )
    UNHANDLED = Way(
        "corrupted requests answered without a refusal or a flag",
        "corrupted requests were not handled as the input contract says (mutators: {mutators}; {unflagged} "
        "unflagged 2xx, {bare} 4xx without a JSON error): input validation misses them — or the target's input "
        "contract does not say what the service really accepts",
    )
    LIVENESS_UNOBSERVED = Way(
        "liveness was not observed",
        "the measurement: no liveness sample during the corrupted-inputs windows, so survival was not observed — "
        "declare the target's liveness probe; the requests themselves were handled",
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
REJECT, ACCEPT, EITHER = (e.value for e in (Expectation.REJECT, Expectation.ACCEPT, Expectation.EITHER))
UNTAGGED = "—"
"""The contract column of a request recorded without ``expected`` (judged as ``reject``)."""


def _expected(requests: pd.DataFrame) -> pd.Series:
    """What the contract expects of each request: ``reject``, ``accept``, ``either``, or :data:`UNTAGGED`."""
    if "expected" not in requests.columns:
        return pd.Series(UNTAGGED, index=requests.index, dtype=object)
    known = requests["expected"].isin([REJECT, ACCEPT, EITHER])
    return requests["expected"].where(known, UNTAGGED).astype(object)


def _with_contract(table: OutcomeTable, contract: pd.Series) -> OutcomeTable:
    """``table`` with a ``contract`` column after ``sent``: what the input contract expects of each mutator."""
    rows = tuple((row[0], row[1], str(contract.get(row[0], UNTAGGED)), *row[2:]) for row in table.rows)
    return OutcomeTable(table.title, (*table.columns[:2], "contract", *table.columns[2:]), rows)


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
            return fault_not_applied(spec.type, name, target, "%", spec.fault)
        windows = [(fault.fault_id, fault.injected_at, fault_end(recording, fault))]
        requests = requests[within(requests["start"], windows)]
    if requests.empty:
        wanted = ", ".join(spec.mutators) or "any mutator"
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="%",
            explanation=f"no corrupted request ({wanted}) in {scope}: nothing was measured",
            advice=Failing.UNMEASURED.advise(mutators=wanted, scope=scope),
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
    served = answered(requests)
    expected = _expected(requests)
    must_reject, allowed = expected.isin([REJECT, UNTAGGED]), expected.isin([ACCEPT, EITHER])
    safe_200 = must_reject & (flagged(requests) | degraded(requests, recording.tiers))
    unflagged_200 = must_reject & served & ~safe_200
    allowed_200 = allowed & served
    errors, hangs = server_error(requests), hung(requests)
    handled = (must_reject & (json_4xx | safe_200)) | (allowed_200 | (expected.eq(EITHER) & json_4xx))
    handled_share = float(handled.mean())
    live_samples, live_failed = _liveness(recording, windows)
    mutator = names(requests).rename("mutator")
    table = _with_contract(
        counts_table(
            "Corrupted requests by mutator",
            mutator,
            {
                "4xx JSON": json_4xx,
                "4xx not JSON": bare_4xx,
                "flagged/degraded 2xx": safe_200,
                "unflagged 2xx": unflagged_200,
                "allowed by contract": allowed_200,
                "5xx": errors,
                "hangs": hangs,
                "handled": handled,
            },
        ),
        expected.groupby(mutator.to_numpy()).agg(lambda seen: "/".join(sorted(set(seen)))),
    )
    details: dict[str, float | str | None] = {
        "requests": float(len(requests)),
        "handled": float(handled.sum()),
        "json_4xx": float(json_4xx.sum()),
        "flagged_or_degraded_200": float(safe_200.sum()),
        "unflagged_200": float(unflagged_200.sum()),
        "allowed_by_contract": float(allowed.sum()),
        "allowed_by_contract_2xx": float(allowed_200.sum()),
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
    failing = [
        way
        for way, bad in (
            (Failing.SERVER_ERRORS, not checks[1][0]),
            (Failing.HANGS, not checks[2][0]),
            (Failing.NOT_LIVE, live_failed > 0),
            (Failing.UNHANDLED, not checks[0][0]),
            (Failing.LIVENESS_UNOBSERVED, live_samples == 0),
        )
        if bad
    ]
    unhandled = sorted(set(names(requests)[~handled]))
    explanation = f"{len(requests)} corrupted requests in {scope}: " + "; ".join(
        f"{'✓' if ok else '✗'} {text}" for ok, text in checks
    )
    accepted = expected.eq(ACCEPT)
    if accepted.any():
        which = ", ".join(sorted(set(names(requests)[accepted])))
        explanation += (
            f"; {int(accepted.sum())} allowed by the input contract ({which}) and judged as clean traffic: "
            f"{int((accepted & served).sum())} answered 2xx"
        )
    if unhandled:
        explanation += "; mutators not always handled: " + ", ".join(unhandled)
    hint = None
    if failing:
        hint = failing[0].advise(
            errors=int(errors.sum()),
            hangs=int(hangs.sum()),
            live_failed=live_failed,
            mutators=", ".join(unhandled) or "none",
            unflagged=int(unflagged_200.sum()),
            bare=int(bare_4xx.sum()),
        )
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=all(ok for ok, _ in checks),
        measured=handled_share * 100,
        target=target,
        unit="%",
        explanation=explanation,
        details=details,
        table=table,
        advice=hint,
        judged=Judged(min(w[1] for w in windows), max(w[2] for w in windows)),
    )


def data_needs(seen: Observed) -> Supported:
    """What this verifier needs of the target's data (``mlchaos target check``)."""
    if not seen.answered:
        return Support.NO, needs.NO_ANSWERS
    return needs.OK if seen.review else (Support.LIMITED, "a flagged answer is not read (response.review)")


VERIFIER = Verifier(BadInputHandling, verify, needs=data_needs, ways=Failing)
