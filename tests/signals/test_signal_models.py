"""Signal declarations that could not be read unambiguously are refused when the target file is validated,
with the file, the line and what to write instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlchaos.experiments.loader import load_target
from mlchaos.experiments.signal_mapping import declared
from mlchaos.experiments.targets import REFERENCE_DECLARATION

TARGET = """\
kind: external
service_url: http://127.0.0.1:8080
{extra}
signals:
{signals}
"""


def problems(tmp_path: Path, signals: str, extra: str = "") -> list[str]:
    file = tmp_path / "target.yaml"
    file.write_text(TARGET.format(signals=signals, extra=extra))
    target, found = load_target(file)
    assert (target is None) == bool(found)
    return [str(problem) for problem in found]


def test_a_valid_declaration_loads(tmp_path: Path) -> None:
    signals = """\
  prometheus_url: http://127.0.0.1:9090
  breakers:
    - {query: 'cb_state{job="svc"}', dependency_label: upstream, states: {closed: '0', open: '1', half_open: '2'}}
  transitions:
    - {metric: cb_changes, dependency: db, from_state: closed, to_state: open}
  gauges:
    queue: {metric: queue_depth}"""
    assert problems(tmp_path, signals) == []


@pytest.mark.parametrize(
    ("signals", "extra", "expected"),
    [
        pytest.param(
            "  breakers:\n    - {metric: cb, dependency: db, states: {closed: CLOSED, open: OPEN}}",
            "",
            "target.yaml:6:7: signals.breakers[0]: the value is the state here (no 'state_label'), and a metric's "
            "value is a number: closed: 'CLOSED', open: 'OPEN' is not",
            id="value-is-state-with-names",
        ),
        pytest.param(
            "  breakers:\n    - {metric: cb, dependency: db, state_label: s, states: {open: closed}}",
            "",
            "'states' must name each state differently: closed and open are written alike",
            id="two-states-alike",
        ),
        pytest.param(
            "  breakers:\n    - {metric: cb, dependency: db, states: {closed: '0', open: '0.0'}}",
            "",
            "closed and open are written alike",
            id="two-values-alike",
        ),
        pytest.param(
            "  drift:\n    alarm: {metric: drift_alarm}",
            "health: {metrics: null}",
            "target.yaml:3:10: health.metrics: signals given as 'metric' are read from the service's Prometheus "
            "exposition, but health.metrics is null",
            id="metric-without-metrics-path",
        ),
        pytest.param(
            "  gauges:\n    queue: {query: 'sum(queue)'}",
            "",
            "signals given as PromQL 'query' need 'prometheus_url'",
            id="query-without-prometheus",
        ),
    ],
)
def test_an_ambiguous_or_unreadable_declaration_is_refused(
    tmp_path: Path, signals: str, extra: str, expected: str
) -> None:
    found = problems(tmp_path, signals, extra)
    assert any(expected in problem for problem in found), found


def test_the_reference_stack_is_one_declaration_among_others() -> None:
    where = [signal.where for signal in declared(REFERENCE_DECLARATION.signals)]
    assert where == [
        "signals.breakers[0]",
        "signals.transitions[0]",
        "signals.drift.alarm",
        "signals.drift.onsets",
    ]
