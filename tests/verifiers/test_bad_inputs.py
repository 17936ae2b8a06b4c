"""``bad_input_handling`` (corrupted requests are rejected cleanly or flagged, the service survives) and
``clean_traffic_unharmed`` (the clean requests around them keep their SLO)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic import fault, health_probes, input_fault, recording, tagged_requests

from mlchaos.experiments.inputs import Mutator
from mlchaos.experiments.verifiers import run_verifier
from mlchaos.experiments.verifiers.bad_input_handling import BadInputHandling
from mlchaos.experiments.verifiers.base import Recording, Verdict
from mlchaos.experiments.verifiers.clean_traffic_unharmed import CleanTrafficUnharmed

CORRUPT = BadInputHandling(type="bad_input_handling")
MUTATORS = ("nan", "truncated_json", "oversized")


def corrupted_run(
    *,
    status: dict[str, int] | None = None,
    error: dict[str, str] | None = None,
    expected: dict[str, str] | None = None,
    live_down: tuple[float, float] | None = None,
    **columns: object,
) -> Recording:
    """Clean traffic 0..60 s; from 10 to 20 s every other request corrupted by one of MUTATORS in turn, answered
    with 422 and a JSON error unless ``status``/``error`` say otherwise for a mutator; ``expected`` tags a
    mutator's requests with what the input contract expects (untagged otherwise, as older runs recorded them)."""
    t = np.arange(0.0, 60.0, 0.05)
    corrupt = (t >= 10) & (t < 20) & (np.arange(len(t)) % 2 == 0)
    mutator = np.array([MUTATORS[i % len(MUTATORS)] for i in range(len(t))], dtype=object)
    tags = np.where(corrupt, "corrupt:" + mutator.astype(str), None)
    statuses = np.where(corrupt, 422, 200)
    errors = np.where(corrupt, "HTTP 422", None).astype(object)
    for name, code in (status or {}).items():
        statuses[corrupt & (mutator == name)] = code
        errors[corrupt & (mutator == name)] = None if code == 200 else f"HTTP {code}"
    for name, text in (error or {}).items():
        errors[corrupt & (mutator == name)] = text
    tagged_expected = np.full(len(t), None, dtype=object)
    for name, expectation in (expected or {}).items():
        tagged_expected[corrupt & (mutator == name)] = expectation
    requests = tagged_requests(
        list(t), list(tags), status=statuses, error=list(errors), expected=list(tagged_expected), **columns
    )
    requests["tier"] = np.where(statuses == 200, requests["tier"], None)
    return recording(
        requests,
        faults=(input_fault("bad", "corrupted_inputs"),),
        probes=health_probes("live", down=live_down),
    )


class TestBadInputHandling:
    def test_json_4xx_for_every_corruption_passes_with_a_row_per_mutator(self) -> None:
        verdict = run_verifier(CORRUPT, corrupted_run())
        assert verdict.passed and verdict.measured == pytest.approx(100.0)
        assert verdict.table is not None
        assert [row[:4] for row in verdict.table.rows] == [
            ("nan", 33, "—", 33),
            ("oversized", 34, "—", 34),
            ("truncated_json", 33, "—", 33),
        ]
        assert verdict.table.columns[:4] == ("mutator", "sent", "contract", "4xx JSON")

    def test_a_nan_that_reaches_the_model_and_500s_fails_naming_it(self) -> None:
        verdict = run_verifier(CORRUPT, corrupted_run(status={"nan": 500}))
        assert not verdict.passed
        assert "✗ 33 5xx (≤ 0)" in verdict.explanation and "not always handled: nan" in verdict.explanation
        assert verdict.details["5xx"] == 33
        nan_row = next(row for row in verdict.table.rows if row[0] == "nan")  # type: ignore[union-attr]
        assert dict(zip(verdict.table.columns, nan_row, strict=True))["5xx"] == 33  # type: ignore[union-attr]

    def test_a_4xx_whose_body_is_not_json_is_not_handled(self) -> None:
        verdict = run_verifier(
            CORRUPT,
            corrupted_run(status={"oversized": 413}, error={"oversized": "HTTP 413: body is not JSON"}),
        )
        assert not verdict.passed and verdict.details["non_json_4xx"] == 34
        assert "oversized" in verdict.explanation

    def test_an_unflagged_primary_answer_to_garbage_is_not_handled(self) -> None:
        verdict = run_verifier(CORRUPT, corrupted_run(status={"truncated_json": 200}))
        assert not verdict.passed and verdict.details["unflagged_200"] == 33
        assert verdict.measured == pytest.approx(100 * 67 / 100)

    def test_a_flagged_or_degraded_answer_is_handled(self) -> None:
        flagged_run = corrupted_run(status={"truncated_json": 200}, flagged=True)
        assert run_verifier(CORRUPT, flagged_run).passed
        degraded_run = corrupted_run(status={"truncated_json": 200}, tier="rules")
        assert run_verifier(CORRUPT, degraded_run).passed

    def test_a_bound_below_all_accepts_some_unhandled(self) -> None:
        run = corrupted_run(status={"truncated_json": 200})
        assert run_verifier(BadInputHandling(type="bad_input_handling", min_handled=0.6), run).passed

    def test_hangs_fail(self) -> None:
        verdict = run_verifier(
            CORRUPT, corrupted_run(status={"oversized": 0}, error={"oversized": "ReadTimeout"})
        )
        assert not verdict.passed and "✗ 34 hangs (≤ 0)" in verdict.explanation

    def test_a_service_that_stops_being_live_fails(self) -> None:
        verdict = run_verifier(CORRUPT, corrupted_run(live_down=(14, 16)))
        assert not verdict.passed and "✗ live in 32/40 samples" in verdict.explanation

    def test_without_liveness_samples_survival_was_not_observed(self) -> None:
        run = corrupted_run()
        verdict = run_verifier(CORRUPT, Recording(**{**run.__dict__, "probes": run.probes.iloc[0:0]}))
        assert not verdict.passed and "liveness not observed" in verdict.explanation

    def test_mutator_filter(self) -> None:
        spec = BadInputHandling(type="bad_input_handling", mutators=("oversized", "truncated_json"))
        verdict = run_verifier(spec, corrupted_run(status={"nan": 500}))
        assert verdict.passed and verdict.details["requests"] == 67

    def test_nothing_corrupted_is_nothing_measured(self) -> None:
        verdict = run_verifier(CORRUPT, recording(tagged_requests([1.0, 2.0], [None, None])))
        assert not verdict.passed and verdict.measured is None
        assert "no corrupted request (any mutator) in the run: nothing was measured" in verdict.explanation

    def test_a_fault_that_never_ran(self) -> None:
        verdict = run_verifier(BadInputHandling(type="bad_input_handling", fault="nope"), corrupted_run())
        assert not verdict.passed and "'nope' was never applied" in verdict.explanation


def cell(verdict: Verdict, mutator: str, column: str) -> object:
    assert verdict.table is not None
    [found] = [r for r in verdict.table.rows if r[0] == mutator]
    return dict(zip(verdict.table.columns, found, strict=True))[column]


class TestInputContract:
    """Each corrupted request is judged by what the service's input contract expects of it."""

    def test_a_lenient_service_answering_what_its_contract_allows_passes(self) -> None:
        # the oversized body is unflagged 200 from the primary tier: fine, its contract allows it
        run = corrupted_run(status={"oversized": 200}, expected={"oversized": "accept", "nan": "reject"})
        verdict = run_verifier(CORRUPT, run)
        assert verdict.passed and verdict.measured == pytest.approx(100.0)
        assert cell(verdict, "oversized", "contract") == "accept"
        assert cell(verdict, "oversized", "allowed by contract") == 34
        assert cell(verdict, "oversized", "unflagged 2xx") == 0
        assert cell(verdict, "oversized", "handled") == 34
        assert cell(verdict, "nan", "contract") == "reject"
        assert cell(verdict, "truncated_json", "contract") == "—"
        allowed = "34 allowed by the input contract (oversized) and judged as clean traffic: 34 answered 2xx"
        assert allowed in verdict.explanation

    def test_refusing_what_the_contract_allows_is_not_handled(self) -> None:
        verdict = run_verifier(CORRUPT, corrupted_run(expected={"oversized": "accept"}))
        assert not verdict.passed and verdict.measured == pytest.approx(66.0)
        assert cell(verdict, "oversized", "4xx JSON") == 34 and cell(verdict, "oversized", "handled") == 0
        assert "0 answered 2xx" in verdict.explanation
        assert "not always handled: oversized" in verdict.explanation

    def test_a_strict_contract_still_holds_a_lenient_service_to_its_word(self) -> None:
        verdict = run_verifier(
            CORRUPT, corrupted_run(status={"oversized": 200}, expected={"oversized": "reject"})
        )
        assert not verdict.passed and cell(verdict, "oversized", "unflagged 2xx") == 34

    @pytest.mark.parametrize("answer", [200, 413])
    def test_either_takes_a_json_refusal_or_an_answer(self, answer: int) -> None:
        run = corrupted_run(status={"oversized": answer}, expected={"oversized": "either"})
        verdict = run_verifier(CORRUPT, run)
        assert verdict.passed and cell(verdict, "oversized", "handled") == 34

    @pytest.mark.parametrize("expectation", ["accept", "either"])
    def test_never_a_5xx_whatever_the_contract(self, expectation: str) -> None:
        run = corrupted_run(status={"oversized": 500}, expected={"oversized": expectation})
        verdict = run_verifier(CORRUPT, run)
        assert not verdict.passed and "✗ 34 5xx (≤ 0)" in verdict.explanation

    def test_a_request_the_contract_allows_is_clean_traffic_for_clean_traffic_unharmed(self) -> None:
        """Refusing an allowed request harms the clean traffic; tagged ``reject``, the same refusal does not."""
        allowed = corrupted_run(expected={"nan": "accept", "oversized": "reject", "truncated_json": "reject"})
        verdict = run_verifier(CleanTrafficUnharmed(type="clean_traffic_unharmed"), allowed)
        assert not verdict.passed and verdict.details["requests"] == 100 + 33
        strict = corrupted_run(expected={m: "reject" for m in MUTATORS})
        assert run_verifier(CleanTrafficUnharmed(type="clean_traffic_unharmed"), strict).passed


UNHARMED = CleanTrafficUnharmed(type="clean_traffic_unharmed", max_p99_ms=100)


def mixed_run(clean_latency_in_fault: float = 20.0, clean_status_in_fault: int = 200) -> Recording:
    t = np.arange(0.0, 60.0, 0.05)
    in_fault = (t >= 10) & (t < 20)
    corrupt = in_fault & (np.arange(len(t)) % 2 == 0)
    clean_in_fault = in_fault & ~corrupt
    tags = np.where(corrupt, "corrupt:nan", None)
    latency = np.where(clean_in_fault, clean_latency_in_fault, 20.0)
    status = np.where(corrupt, 422, np.where(clean_in_fault, clean_status_in_fault, 200))
    return recording(
        tagged_requests(list(t), list(tags), status=status, latency_ms=latency),
        faults=(fault("outage", 30, 35), input_fault("bad", "corrupted_inputs")),
    )


class TestCleanTrafficUnharmed:
    def test_clean_requests_that_keep_their_slo_pass(self) -> None:
        verdict = run_verifier(UNHARMED, mixed_run())
        assert verdict.passed and verdict.measured == pytest.approx(100.0)
        assert "100 clean requests during the input-fault windows" in verdict.explanation
        assert "availability 100.00%" in verdict.explanation and "p99 20 ms (≤ 100 ms)" in verdict.explanation
        assert verdict.table is not None and verdict.table.rows == (("bad", 100, 0, 100.0, 20.0),)

    def test_slow_clean_requests_fail_on_latency(self) -> None:
        verdict = run_verifier(UNHARMED, mixed_run(clean_latency_in_fault=300))
        assert not verdict.passed and "✗ p99 300 ms (≤ 100 ms)" in verdict.explanation

    def test_clean_requests_rejected_while_bad_ones_flow_are_harmed(self) -> None:
        verdict = run_verifier(UNHARMED, mixed_run(clean_status_in_fault=429))
        assert not verdict.passed and verdict.measured == pytest.approx(0.0)

    def test_the_ratio_to_the_clean_baseline(self) -> None:
        spec = CleanTrafficUnharmed(type="clean_traffic_unharmed", max_p99_ratio=2)
        assert run_verifier(spec, mixed_run(clean_latency_in_fault=39)).passed
        verdict = run_verifier(spec, mixed_run(clean_latency_in_fault=41))
        assert not verdict.passed and "≤ 2× baseline 20 ms = 40 ms" in verdict.explanation

    def test_default_bound_is_the_steady_state_p99(self) -> None:
        spec = CleanTrafficUnharmed(type="clean_traffic_unharmed")
        assert run_verifier(spec, mixed_run(clean_latency_in_fault=199)).passed
        assert not run_verifier(spec, mixed_run(clean_latency_in_fault=201)).passed

    def test_other_faults_are_not_input_fault_windows(self) -> None:
        run = mixed_run()
        slow_outage = run.requests.copy()
        slow_outage.loc[(slow_outage["start"] >= run.faults[0].injected_at), "latency_ms"] = 900.0
        slow_outage.loc[slow_outage["start"] >= run.faults[0].reverted_at, "latency_ms"] = 20.0  # type: ignore[operator]
        assert run_verifier(UNHARMED, Recording(**{**run.__dict__, "requests": slow_outage})).passed

    def test_a_named_fault_that_never_ran(self) -> None:
        spec = CleanTrafficUnharmed(type="clean_traffic_unharmed", faults=("bad", "nope"))
        verdict = run_verifier(spec, mixed_run())
        assert not verdict.passed and "fault 'nope' was never applied" in verdict.explanation

    def test_no_clean_request_is_nothing_measured(self) -> None:
        run = recording(
            tagged_requests([11.0], ["corrupt:nan"]), faults=(input_fault("bad", "corrupted_inputs"),)
        )
        verdict = run_verifier(UNHARMED, run)
        assert (
            not verdict.passed and verdict.measured is None and "nothing was measured" in verdict.explanation
        )


def test_records_without_input_columns_are_all_clean() -> None:
    run = mixed_run()
    old = run.requests.drop(columns=["input", "pair", "expected", "score", "flagged", "shed"])
    old_run = Recording(**{**run.__dict__, "requests": old})
    assert run_verifier(UNHARMED, old_run).details["requests"] == 200
    assert run_verifier(CORRUPT, old_run).measured is None
    assert isinstance(old, pd.DataFrame)


def test_every_mutator_of_the_catalogue_is_counted_in_its_own_row() -> None:
    mutators = [m.value for m in Mutator]
    starts = [10.0 + i * 0.1 for i in range(len(mutators))]
    requests = tagged_requests(starts, [f"corrupt:{m}" for m in mutators], status=422, error="HTTP 422")
    run = recording(requests, faults=(input_fault("bad", "corrupted_inputs"),), probes=health_probes("live"))
    verdict = run_verifier(CORRUPT, run)
    assert verdict.passed and verdict.details["requests"] == len(mutators)
    assert verdict.table is not None
    assert {row[0]: (row[1], row[3]) for row in verdict.table.rows} == {m: (1, 1) for m in mutators}
