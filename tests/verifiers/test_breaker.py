"""``breaker`` on synthetic probe streams: a breaker sampled every 250 ms whose transitions are placed off the grid,
so each event is seen at the next sample (e.g. opening at 10.3 s is seen at 10.5 s: 0.5 s after a 10 s injection)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic import breaker_probes, fault, probes_frame, recording, timeline

from mlchaos.experiments.verifiers import run_verifier
from mlchaos.experiments.verifiers.base import FaultWindow, Verdict
from mlchaos.experiments.verifiers.breaker import Breaker
from mlchaos.experiments.verifiers.breaker_signals import Series, increases

DEP = "feature_store"
# Opens 0.3 s into a 10-20 s fault, probes half-open at 12.3 s (a failed trial re-opens it at 12.6 s), and closes
# 0.7 s after the revert. Seen: open 10.5 s, half-open 12.5 s, closed 20.75 s.
CYCLE = [(10.3, "open"), (12.3, "half_open"), (12.6, "open"), (20.6, "half_open"), (20.7, "closed")]
REQUESTS = timeline(10, 60, lambda t: (200, "primary", 10.0))


def check(probes: pd.DataFrame, *, faults: tuple[FaultWindow, ...] = (fault(),), **params: object) -> Verdict:
    spec = Breaker.model_validate({"type": "breaker", "dependency": DEP, "fault": "f", **params})
    return run_verifier(spec, recording(REQUESTS, faults=faults, probes=probes))


@pytest.mark.parametrize(
    "signals",
    [{"states": True, "counters": True}, {"counters": False}, {"states": False}],
    ids=["states-and-counters", "states-only", "counters-only"],
)
def test_a_clean_cycle_passes_with_the_same_answer_from_either_signal(signals: dict[str, bool]) -> None:
    verdict = check(breaker_probes(DEP, CYCLE, **signals))
    assert verdict.passed, verdict.explanation
    assert verdict.measured == pytest.approx(0.5)
    assert verdict.details["half_open_after_s"] == pytest.approx(2.5)
    assert verdict.details["close_after_revert_s"] == pytest.approx(0.75)
    assert verdict.details["flaps"] == 1
    assert "opened 0.50s after injection" in verdict.explanation


def test_counters_that_start_non_zero_only_count_what_happened_in_the_run() -> None:
    verdict = check(breaker_probes(DEP, CYCLE, counted_before=7, states=False))
    assert verdict.passed and verdict.measured == pytest.approx(0.5)
    assert verdict.details["flaps"] == 1


@pytest.mark.parametrize(
    ("state_every", "counter_every"), [(1.0, 0.25), (0.25, 1.0)], ids=["counters-first", "states-first"]
)
def test_whichever_signal_shows_the_opening_first_dates_it(state_every: float, counter_every: float) -> None:
    probes = pd.concat(
        [
            breaker_probes(DEP, CYCLE, every_s=state_every, counters=False),
            breaker_probes(DEP, CYCLE, every_s=counter_every, states=False),
        ]
    ).sort_values("ts", kind="stable")
    assert check(probes).measured == pytest.approx(0.5)


def test_a_half_open_shorter_than_the_sampling_interval_is_seen_by_the_counter_only() -> None:
    short = [(10.3, "open"), (12.3, "half_open"), (12.4, "open"), (20.6, "half_open"), (20.7, "closed")]
    assert check(breaker_probes(DEP, short)).details["half_open_after_s"] == pytest.approx(2.5)
    states_only = check(breaker_probes(DEP, short, counters=False))
    assert not states_only.passed
    assert states_only.details["failed"] == "half_open" and "never half-opened" in states_only.explanation
    assert check(breaker_probes(DEP, short, counters=False), half_open_after=False).passed


def test_opening_too_late_names_the_open_condition() -> None:
    verdict = check(breaker_probes(DEP, CYCLE), open_within=0.4)
    assert not verdict.passed and verdict.measured == pytest.approx(0.5)
    assert verdict.explanation.startswith("failed: open —")


def test_a_breaker_that_never_opens_fails_with_nothing_measured() -> None:
    verdict = check(breaker_probes(DEP, []))
    assert not verdict.passed and verdict.measured is None
    assert "never opened while the fault was applied" in verdict.explanation
    assert verdict.details["failed"] == "open, half_open"


def test_opening_only_after_the_revert_does_not_count() -> None:
    verdict = check(breaker_probes(DEP, [(21.3, "open"), (23.3, "half_open"), (23.5, "closed")]))
    assert verdict.measured is None and not verdict.passed


def test_a_breaker_already_open_before_the_fault_did_not_open_because_of_it() -> None:
    verdict = check(breaker_probes(DEP, [(5.3, "open"), (20.6, "half_open"), (20.7, "closed")]))
    assert verdict.measured is None
    assert "already open at the injection" in verdict.explanation


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ([(10.3, "open"), (12.3, "half_open"), (12.6, "open")], "never closed after the revert"),
        (
            [(10.3, "open"), (12.3, "half_open"), (12.6, "open"), (29.6, "half_open"), (29.7, "closed")],
            "9.75s",
        ),
    ],
    ids=["never-closes", "closes-too-late"],
)
def test_recovery_that_never_happens_or_happens_late_fails_the_close_condition(
    changes: list[tuple[float, str]], reason: str
) -> None:
    verdict = check(breaker_probes(DEP, changes), close_within=5)
    assert not verdict.passed and verdict.details["failed"] == "close"
    assert reason in verdict.explanation
    assert verdict.measured == pytest.approx(0.5)


def test_a_breaker_closed_again_before_the_revert_counts_as_closed_at_the_revert() -> None:
    early = [(10.3, "open"), (12.3, "half_open"), (12.4, "closed")]
    for signals in ({"counters": False}, {"states": False}):
        assert check(breaker_probes(DEP, early, **signals)).details["close_after_revert_s"] == 0.0


def test_a_fault_that_is_never_reverted_cannot_pass_the_close_condition() -> None:
    verdict = check(breaker_probes(DEP, CYCLE[:3]), faults=(fault(reverted_s=None),))
    assert not verdict.passed and "never reverted" in verdict.explanation


FLAPS = [
    *CYCLE,
    (22.3, "open"),
    (23.7, "closed"),
    (25.3, "open"),
    (26.7, "closed"),
    (28.3, "open"),
    (29.7, "closed"),
]


@pytest.mark.parametrize(
    ("max_flaps", "passed"), [(3, False), (4, True)], ids=["four-flaps-over-three", "four-flaps-allowed"]
)
def test_a_breaker_that_flaps_after_the_revert(max_flaps: int, passed: bool) -> None:
    verdict = check(breaker_probes(DEP, FLAPS), max_flaps=max_flaps)
    assert verdict.details["flaps"] == 4
    assert verdict.passed is passed
    if not passed:
        assert (
            verdict.details["failed"] == "flaps" and "4 closed>open over the run (≤ 3)" in verdict.explanation
        )


def test_flaps_shorter_than_a_sample_are_counted_by_the_counter() -> None:
    blips = [
        *CYCLE,
        *[
            (t + dt, s)
            for t in (30.05, 35.05)
            for dt, s in ((0, "open"), (0.05, "half_open"), (0.1, "closed"))
        ],
    ]
    both = check(breaker_probes(DEP, blips))
    assert both.details["flaps_counter"] == 3 and both.details["flaps_states"] == 1


def test_fault_at_time_zero() -> None:
    changes = [(0.1, "open"), (2.1, "half_open"), (5.3, "closed")]
    at_zero = (fault(injected_s=0.0, reverted_s=5.0),)
    verdict = check(breaker_probes(DEP, changes), faults=at_zero)
    assert verdict.passed and verdict.measured == pytest.approx(0.25)
    # The prober started late: the first state sample is already open. Breakers start closed, so that is an opening.
    late = check(breaker_probes(DEP, changes, start_s=0.5, counted_before=3), faults=at_zero)
    assert late.measured == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("probes", "reason"),
    [
        (
            probes_frame([]),
            "the target declares no breaker signals (signals.breakers or signals.transitions)",
        ),
        (breaker_probes("primary_model", CYCLE), "breakers seen: primary_model"),
        (
            probes_frame([(t, "metrics", None, None) for t in np.arange(0, 60, 0.25)]),
            "240 probe samples could not be read",
        ),
    ],
    ids=["no-probes", "other-breaker-only", "metrics-unreadable"],
)
def test_missing_probe_data_fails_with_a_reason(probes: pd.DataFrame, reason: str) -> None:
    verdict = check(probes)
    assert not verdict.passed and verdict.measured is None
    assert f"no probe data for breaker '{DEP}'" in verdict.explanation and reason in verdict.explanation


def test_a_fault_that_was_never_applied_fails() -> None:
    verdict = check(breaker_probes(DEP, CYCLE), faults=())
    assert verdict.measured is None and "never applied" in verdict.explanation


@pytest.mark.parametrize(
    ("values", "since", "expected"),
    [
        ([5, 5, 6, 6], 0.5, [(2.0, 1.0)]),
        ([5, 5, 0, 1], 0.5, [(3.0, 1.0)]),
        ([5, 5, 2, 2], 0.5, [(2.0, 2.0)]),
        ([5, 6, 7, 7], 1.5, [(2.0, 1.0)]),
        ([5, 6, 7, 7], -1.0, [(1.0, 1.0), (2.0, 1.0)]),
    ],
    ids=[
        "rise",
        "restart-to-zero-then-rise",
        "restart-then-two",
        "baseline-is-last-sample-before",
        "no-sample-before",
    ],
)
def test_counter_increases(values: list[float], since: float, expected: list[tuple[float, float]]) -> None:
    rises = increases(Series(np.arange(4.0), np.array(values, dtype=float)), since)
    assert list(zip(rises.ts.tolist(), rises.values.tolist(), strict=True)) == expected
