"""``error_budget`` (bad responses against an SLO's allowance) and ``load_shedding`` (a traffic spike)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic import T0, fault, recording, requests_frame

from mlchaos.experiments.verifiers import run_verifier
from mlchaos.experiments.verifiers.base import FaultWindow, Phase, Verdict
from mlchaos.experiments.verifiers.error_budget import ErrorBudget
from mlchaos.experiments.verifiers.load_shedding import LoadShedding


def with_statuses(bad: dict[int, int], n: int = 1000) -> pd.DataFrame:
    """``n`` requests over the run, the first of them with the given statuses (status -> how many)."""
    status = np.full(n, 200)
    status[: sum(bad.values())] = np.repeat(list(bad), list(bad.values()))
    return requests_frame(np.linspace(0, 60, n, endpoint=False), status=status)


class TestErrorBudget:
    @pytest.mark.parametrize(
        ("statuses", "slo", "burned", "passed"),
        [
            ({503: 5}, 0.995, 100.0, True),
            ({503: 6}, 0.995, 120.0, False),
            ({503: 3, 0: 2}, 0.995, 100.0, True),
            ({422: 50, 503: 1}, 0.995, 20.0, True),
            ({503: 10}, 0.99, 100.0, True),
            ({}, 0.999, 0.0, True),
        ],
        ids=[
            "exactly-at-the-limit",
            "one-over",
            "timeouts-are-bad",
            "4xx-are-not-bad",
            "slo-99-at-limit",
            "no-errors",
        ],
    )
    def test_burn_of_the_budget(
        self, statuses: dict[int, int], slo: float, burned: float, passed: bool
    ) -> None:
        verdict = run_verifier(ErrorBudget(type="error_budget", slo=slo), recording(with_statuses(statuses)))
        assert verdict.measured == pytest.approx(burned)
        assert verdict.passed is passed

    def test_explanation_gives_bad_allowed_and_burned(self) -> None:
        verdict = run_verifier(ErrorBudget(type="error_budget"), recording(with_statuses({503: 6})))
        assert "6 bad responses" in verdict.explanation and "allows 5.0" in verdict.explanation
        assert "120.0% of the budget burned, over 100%" in verdict.explanation
        assert verdict.details["allowed"] == pytest.approx(5.0) and verdict.details[
            "remaining"
        ] == pytest.approx(-1.0)

    def test_a_stricter_burn_limit(self) -> None:
        verdict = run_verifier(
            ErrorBudget(type="error_budget", max_burn=0.5), recording(with_statuses({503: 3}))
        )
        assert verdict.measured == pytest.approx(60.0) and not verdict.passed

    def test_one_phase_only(self) -> None:
        requests = requests_frame(np.arange(0, 60, 0.01), status=np.where(np.arange(6000) == 1500, 503, 200))
        verdict = run_verifier(ErrorBudget(type="error_budget", phase="fault"), recording(requests))
        assert verdict.measured == pytest.approx(20.0)  # 1 bad of 1000 in the fault phase; 5 allowed

    def test_no_requests_in_the_phase_fails_with_nothing_measured(self) -> None:
        short = recording(with_statuses({}), phases=((Phase.BASELINE, 0, 10),))
        verdict = run_verifier(ErrorBudget(type="error_budget", phase="after"), short)
        assert (
            not verdict.passed and verdict.measured is None and "no requests in after" in verdict.explanation
        )


SPIKE = (FaultWindow("spike", "traffic_spike", fault().injected_at, fault().reverted_at, True),)


def spike(kinds: list[tuple[int, str | None, float]], *, only_during: bool = True) -> pd.DataFrame:
    """Requests every 10 ms over 60 s; during the 10-20 s spike they cycle through ``kinds`` (status, tier, ms)."""
    t = np.arange(0, 60, 0.01)
    pick = np.arange(len(t)) % len(kinds)
    during = (t >= 10) & (t < 20) if only_during else np.ones(len(t), bool)
    status = np.where(during, [kinds[i][0] for i in pick], 200)
    tier = np.where(during, np.array([kinds[i][1] for i in pick], dtype=object), "primary")
    latency = np.where(during, [kinds[i][2] for i in pick], 10.0)
    return requests_frame(t, status=status, tier=tier, latency_ms=latency)


ADMIT, SHED_429, SHED_RULES = (200, "primary", 80.0), (429, None, 5.0), (200, "rules", 10.0)


def shedding(requests: pd.DataFrame, faults: tuple[FaultWindow, ...] = SPIKE, **params: object) -> Verdict:
    spec = LoadShedding.model_validate(
        {"type": "load_shedding", "fault": "spike", "admitted_p99_ms": 100, **params}
    )
    return run_verifier(spec, recording(requests, faults=faults))


class TestLoadShedding:
    def test_fast_shedding_and_fast_admitted_requests_pass(self) -> None:
        frame = spike([ADMIT, SHED_429, SHED_RULES])
        frame["shed"] = frame["tier"] == "rules"  # the target marks them, as the reference gateway's X-Shed
        verdict = shedding(frame)
        assert verdict.passed and verdict.measured == pytest.approx(80.0)
        assert verdict.details["shed"] == 667 and verdict.details["shed_p99_ms"] == pytest.approx(10.0)

    @pytest.mark.parametrize(
        ("kinds", "failing"),
        [
            ([ADMIT, (429, None, 120.0)], "✗ shed p99 120 ms (≤ 50)"),
            ([(200, "primary", 400.0), SHED_429], "✗ admitted p99 400 ms (≤ 100)"),
            ([ADMIT, SHED_429, (503, None, 5.0)], "✗ 333 5xx/timeouts (≤ 0)"),
            ([ADMIT, SHED_429, (0, None, 5.0)], "✗ 333 5xx/timeouts (≤ 0)"),
        ],
        ids=["slow-shedding", "slow-admitted", "server-errors", "timeouts"],
    )
    def test_each_condition_can_fail_it(
        self, kinds: list[tuple[int, str | None, float]], failing: str
    ) -> None:
        verdict = shedding(spike(kinds))
        assert not verdict.passed and failing in verdict.explanation

    def test_errors_are_admitted_requests_and_count_in_their_p99(self) -> None:
        verdict = shedding(spike([ADMIT, (0, None, 2000.0)]), max_errors=1000)
        assert verdict.measured == pytest.approx(2000.0) and not verdict.passed

    def test_the_targets_own_shed_mark_wins_over_the_tier(self) -> None:
        """The reference gateway says X-Shed: 1. A shed answer from the fallback tier is shed, and a rules answer
        the target did not shed (say the primary failed) is admitted — the tier is only a stand-in."""
        frame = spike([ADMIT, (200, "fallback", 4.0), (200, "rules", 90.0)])
        during = (frame["start"] >= T0 + 10) & (frame["start"] < T0 + 20)
        frame["shed"] = np.where(during, frame["tier"] == "fallback", False)
        verdict = shedding(frame)
        assert verdict.details["shed"] == frame["shed"].sum() > 300
        assert verdict.details["shed_p99_ms"] == pytest.approx(4.0)
        assert verdict.measured == pytest.approx(90.0)  # the unshed rules answers are admitted ones

    def test_the_shed_tiers_are_configurable(self) -> None:
        verdict = shedding(spike([ADMIT, (200, "cache", 3.0)]), shed_tiers=["cache"])
        assert verdict.details["shed_share"] == pytest.approx(0.5)

    def test_by_default_only_what_the_target_marks_is_shed_whatever_the_tier(self) -> None:
        """No tier is shed by name unless the scenario says so: a cheap tier's unmarked answer is admitted."""
        unmarked = spike([ADMIT, SHED_RULES])
        assert shedding(unmarked).details["shed_share"] == 0.0
        assert shedding(unmarked, shed_tiers=["rules"]).details["shed_share"] == pytest.approx(0.5)

    def test_a_spike_absorbed_without_shedding_passes_unless_shedding_is_required(self) -> None:
        absorbed = shedding(spike([ADMIT]))
        assert absorbed.passed and "nothing shed" in absorbed.explanation
        required = shedding(spike([ADMIT]), min_shed_share=0.1)
        assert not required.passed and "✗ 0.0% shed (≥ 10%)" in required.explanation

    def test_everything_shed_leaves_nothing_admitted_to_measure(self) -> None:
        verdict = shedding(spike([SHED_429]))
        assert (
            not verdict.passed and verdict.measured is None and "nothing was admitted" in verdict.explanation
        )

    def test_without_a_fault_the_fault_phase_is_the_spike(self) -> None:
        spec = LoadShedding(type="load_shedding", admitted_p99_ms=100)
        assert run_verifier(spec, recording(spike([ADMIT, SHED_429]))).measured == pytest.approx(80.0)

    @pytest.mark.parametrize(
        ("requests", "faults", "reason"),
        [
            (spike([ADMIT]), (), "fault 'spike' was never applied"),
            (requests_frame(np.arange(30, 60, 0.1)), SPIKE, "no requests during 'spike'"),
        ],
        ids=["fault-never-applied", "no-requests-during-the-spike"],
    )
    def test_nothing_to_measure_fails(
        self, requests: pd.DataFrame, faults: tuple[FaultWindow, ...], reason: str
    ) -> None:
        verdict = shedding(requests, faults)
        assert not verdict.passed and verdict.measured is None and reason in verdict.explanation
