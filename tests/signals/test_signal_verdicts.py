"""Verifiers and the report on signals read through a declaration: a service's own conventions judged like the
reference stack's, a verdict without data that says which declaration is missing or what could not be read,
and a timeline row for whatever the service calls its breakers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd
from verifiers.synthetic import T0, fault, recording, requests_frame

from mlchaos.experiments.records import PROBE_SCHEMA, ProbeSample
from mlchaos.experiments.signal_mapping import declared
from mlchaos.experiments.signal_reading import from_exposition
from mlchaos.experiments.signals import Signals
from mlchaos.experiments.verifiers import run_verifier
from mlchaos.experiments.verifiers.base import Recording, Verdict
from mlchaos.experiments.verifiers.breaker import Breaker
from mlchaos.experiments.verifiers.drift_detected_within import DriftDetectedWithin
from mlchaos.experiments.verifiers.mttd import Mttd
from mlchaos.reports import series

CIRCUIT = {
    "breakers": [
        {
            "metric": "circuit",
            "dependency_label": "upstream",
            "states": {"closed": "0", "open": "1", "half_open": "2"},
        }
    ]
}
NUMBER = {"closed": 0, "open": 1, "half_open": 2}


def probes(signals: dict[str, Any], text_at: Callable[[float], str], end_s: float = 60.0) -> pd.DataFrame:
    """What the prober records every 0.25 s when the service's /metrics reads ``text_at(t)``."""
    declaration = declared(Signals.model_validate(signals))
    rows = [
        asdict(ProbeSample(T0 + t, r.check, r.ok, r.value, 1.0, r.error, r.number))
        for t in np.arange(0.0, end_s, 0.25)
        for r in from_exposition(declaration, text_at(float(t)))
    ]
    return pd.DataFrame(rows, columns=PROBE_SCHEMA.names)


def run(spec: Any, probed: pd.DataFrame) -> Verdict:
    requests = requests_frame(np.arange(0.0, 60.0, 0.1))  # primary answers throughout
    run_: Recording = recording(requests, faults=(fault(),), probes=probed)
    return run_verifier(spec, run_)


BREAKER = Breaker(type="breaker", dependency="ledger", fault="f", open_within=2, close_within=3)


def test_a_breaker_exposed_as_a_number_is_judged_like_any_other() -> None:
    def text_at(t: float) -> str:  # opens 0.6 s into the 10..20 s fault, half-opens at 15 s, closes 1 s after
        state = "open" if 10.6 <= t < 15 else "half_open" if 15 <= t < 21 else "closed"
        return f'circuit{{upstream="ledger"}} {NUMBER[state]}\n'

    verdict = run(BREAKER, probes(CIRCUIT, text_at))
    assert verdict.passed, verdict.explanation
    assert verdict.measured == 0.75  # the first sample at or after 10.6 s


def test_a_breaker_whose_values_map_to_no_state_has_no_data_and_says_why() -> None:
    verdict = run(BREAKER, probes(CIRCUIT, lambda t: 'circuit{upstream="ledger"} 7\n'))
    assert not verdict.passed and verdict.measured is None
    assert verdict.explanation == (
        "no probe data for breaker 'ledger': 240 probe samples could not be read (first: signals.breakers[0]: "
        "value 7 maps to no state in signals.breakers[0].states (closed: '0', open: '1', half_open: '2') "
        "(dependency 'ledger'))"
    )


def test_a_breaker_named_otherwise_in_the_declaration_is_pointed_out() -> None:
    verdict = run(BREAKER, probes(CIRCUIT, lambda t: 'circuit{upstream="ledger_db"} 0\n'))
    assert verdict.explanation == (
        "no probe data for breaker 'ledger': breakers seen: ledger_db (is 'ledger' named so in the target's "
        "signals?)"
    )


def test_no_breaker_signals_declared_is_said_so() -> None:
    verdict = run(BREAKER, probes({}, lambda t: "circuit 1\n"))
    assert verdict.explanation == (
        "no probe data for breaker 'ledger': the target declares no breaker signals (signals.breakers or "
        "signals.transitions)"
    )


def test_mttd_without_any_reaction_names_the_missing_breaker_declaration() -> None:
    spec = Mttd(type="mttd", fault="f", max=1)
    verdict = run(spec, probes({}, lambda t: ""))
    assert not verdict.passed
    assert verdict.explanation.endswith(
        "no breaker left closed (the target declares no breaker signals (signals.breakers or signals.transitions))"
    )
    named = run(Mttd(type="mttd", fault="f", max=1, dependencies=("ledger",)), probes(CIRCUIT, lambda t: ""))
    assert "(no probe data for breaker 'ledger': 240 probe samples could not be read" in named.explanation


DRIFT = DriftDetectedWithin(type="drift_detected_within", fault="f", within=5)


def test_a_drift_alarm_that_could_not_be_read_is_not_an_undeclared_one() -> None:
    declaration = {"drift": {"alarm": {"metric": "model_drift_alarm"}}}
    verdict = run(DRIFT, probes(declaration, lambda t: "model_drift_score 3\n"))
    assert not verdict.passed and verdict.measured is None
    assert verdict.explanation == (
        "the drift alarm could not be read (240 samples; first: signals.drift.alarm: no metric "
        "'model_drift_alarm' in the service's metrics (health.metrics)): nothing can show it detected the shift"
    )
    undeclared = run(DRIFT, probes({}, lambda t: "model_drift_alarm 1\n"))
    assert undeclared.explanation == (
        "the target declares no drift signals (signals.drift.alarm or signals.drift.onsets): nothing can show "
        "it detected the shift"
    )


def test_the_report_timeline_has_a_row_for_any_declared_breaker_unreadable_samples_unknown() -> None:
    def text_at(t: float) -> str:  # "ledger-db" open 10..20 s, its value unmapped 30..35 s
        value = 1 if 10 <= t < 20 else 9 if 30 <= t < 35 else 0
        return f'circuit{{upstream="ledger-db"}} {value}\n'

    run_ = recording(
        requests_frame(np.arange(0.0, 60.0, 0.1)), faults=(fault(),), probes=probes(CIRCUIT, text_at)
    )
    bands = series.timeline(run_, zero=T0).breakers
    assert list(bands) == ["ledger-db"]
    states = {state: start for start, _, state in reversed(bands["ledger-db"])}  # first band of each state
    assert set(states) == {"closed", "open", "unknown"}
    assert 9.0 <= states["open"] <= 10.0 and 29.0 <= states["unknown"] <= 30.0
