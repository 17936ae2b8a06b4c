"""A finished suite pushed to a real Pushgateway, scraped by a real Prometheus: every documented series is there
with the values of the suite's summaries, and every expression of the Grafana dashboard returns data from them.

Costs one Pushgateway and one Prometheus start (a few seconds each), shared by the module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from publish_helpers import DAY, T0, earlier, make_run, make_suite
from support.prometheus_server import Prometheus, run_prometheus
from support.pushgateway_server import Pushgateway, run_pushgateway
from test_dashboard import dashboard_expressions

from mlchaos.experiments.publish import PublishConfig, PushgatewayConfig, after_suite
from mlchaos.experiments.publish.metrics import METRICS
from mlchaos.experiments.publish.results import epoch
from mlchaos.experiments.run_view import Output

pytestmark = pytest.mark.prometheus


@pytest.fixture(scope="module")
def pushgateway() -> Iterator[Pushgateway]:
    yield from run_pushgateway()


@pytest.fixture(scope="module")
def prometheus(pushgateway: Pushgateway) -> Iterator[Prometheus]:
    yield from run_prometheus(pushgateway.url)


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory, pushgateway: Pushgateway) -> Path:
    """A suite of two scenarios — one holds, one breaks after passing last month — pushed to the gateway."""
    out = tmp_path_factory.mktemp("runs")
    suite_dir = out / "20261122-100000-monthly"
    runs = [make_run(suite_dir, "holds"), make_run(suite_dir, "breaks", failing=True)]
    make_suite(suite_dir, runs)
    earlier(make_run(out / "last-month", "breaks"), out, days_ago=30)
    config = PublishConfig(pushgateway=PushgatewayConfig(url=pushgateway.url, timeout=10))
    [attempt] = after_suite(suite_dir, runs, config, history=out, output=Output.quiet())
    assert attempt.ok, attempt.detail
    assert attempt.detail == f"pushed to {pushgateway.url} (job=mlchaos, suite=monthly)"
    return suite_dir


def _values(prometheus: Prometheus, promql: str) -> dict[tuple[str, ...], float]:
    result = prometheus.query(promql)["data"]["result"]
    return {
        tuple(
            f"{k}={v}" for k, v in sorted(r["metric"].items()) if k in ("scenario", "fault", "verifier")
        ): float(r["value"][1])
        for r in result
    }


def _summary(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "summary.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_prometheus_scrapes_every_documented_series_of_a_pushed_suite(
    pushed: Path, prometheus: Prometheus
) -> None:
    for metric in METRICS:
        prometheus.wait_for(f'{metric.name}{{suite="monthly"}}', bool, f"{metric.name} scraped")

    holds, breaks = _summary(pushed / "20261122-100000-holds"), _summary(pushed / "20261122-100000-breaks")
    assert _values(prometheus, "mlchaos_scenario_passed") == {
        ("scenario=breaks",): 0.0,
        ("scenario=holds",): 1.0,
    }
    assert _values(prometheus, "mlchaos_scenario_regressed") == {
        ("scenario=breaks",): 1.0,  # passed last month
        ("scenario=holds",): 0.0,  # no earlier run: nothing to regress from
    }
    assert _values(prometheus, "mlchaos_scenario_score")[("scenario=breaks",)] == pytest.approx(
        breaks["score"]
    )
    assert _values(prometheus, "mlchaos_suite_score") == {(): pytest.approx(_summary(pushed)["score"])}
    mttr = holds["faults"][0]["mttr_s"]
    assert _values(prometheus, 'mlchaos_fault_mttr_seconds{scenario="holds"}') == {
        ("fault=store-down", "scenario=holds"): pytest.approx(mttr)
    }
    failed = _values(prometheus, 'mlchaos_verifier_passed{scenario="breaks"} == 0')
    assert list(failed) == [("scenario=breaks", "verifier=latency p50 (fault)")]
    # The last success of "breaks" is last month's run (from the history folder); of "holds", this one.
    last = _values(prometheus, "mlchaos_scenario_last_success_timestamp_seconds")
    assert last[("scenario=holds",)] == epoch(holds["started_at"])
    assert last[("scenario=breaks",)] == T0 - 30 * DAY  # when earlier() dated it
    # No series names a run: none of the labels holds a directory or a time.
    every = prometheus.query('{__name__=~"mlchaos_.+"}')["data"]["result"]
    labels = {key for series in every for key in series["metric"]}
    assert labels <= {
        "__name__",
        "job",
        "instance",
        "exported_job",
        "suite",
        "scenario",
        "verifier",
        "unit",
        "fault",
    }


def test_every_dashboard_expression_returns_data_for_a_pushed_suite(
    pushed: Path, prometheus: Prometheus
) -> None:
    prometheus.wait_for('mlchaos_suite_score{suite="monthly"}', bool, "the suite scraped")
    empty = []
    for title, expr in dashboard_expressions():
        answer = prometheus.query(expr.replace("$suite", "monthly"))
        assert answer["status"] == "success", (title, expr, answer)
        if not answer["data"]["result"]:
            empty.append(title)
    assert not empty, f"dashboard panels with no data for a pushed suite: {empty}"
