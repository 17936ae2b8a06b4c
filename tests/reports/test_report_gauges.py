"""Declared gauges (``signals.gauges``, probe checks ``gauge:<name>``) on the timeline: one small row each under
the others, their per-bin means; a run without gauges gets the chart it always had."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from run_dirs import T0, probes, write_run_dir

from mlchaos.experiments.records import PROBE_SCHEMA, ProbeSample
from mlchaos.experiments.scenario import Scenario
from mlchaos.experiments.verifiers.base import Recording, empty_probes
from mlchaos.experiments.verifiers.steady_state import SteadyState
from mlchaos.reports import RunReader, write_run_outputs
from mlchaos.reports.charts import timeline_svg
from mlchaos.reports.series import timeline


def _recording(rows: list[dict[str, object]] | None = None, seconds: float = 10.0) -> Recording:
    """Ten requests a second for ``seconds``, and the probe samples ``rows``."""
    start = T0 + np.arange(0.0, seconds, 0.1)
    requests = pd.DataFrame({"start": start, "latency_ms": 10.0, "status": 200, "tier": "primary"})
    probe_table = empty_probes() if rows is None else pd.DataFrame(rows).reindex(columns=PROBE_SCHEMA.names)
    return Recording(requests, probe_table, (), (), T0, T0 + seconds, SteadyState())


def gauge_rows(name: str, values: dict[float, float | None]) -> list[dict[str, object]]:
    """``gauge:<name>`` samples at seconds after T0; ``None`` is a failed reading."""
    return [
        {"ts": T0 + ts, "check": f"gauge:{name}", "ok": value is not None, "number": value}
        | ({} if value is not None else {"error": f"signals.gauges.{name}: no series"})
        for ts, value in values.items()
    ]


def test_a_gauge_is_the_mean_of_its_numbers_per_bin_with_short_gaps_carried() -> None:
    samples = {0.0: 2.0, 0.25: 4.0, 0.5: 10.0, 0.75: None, 5.0: 7.0}  # nothing read from 1 s to 5 s
    series = timeline(_recording(gauge_rows("queue", samples)), T0)
    queue = series.gauges["queue"]
    assert len(queue) == len(series.starts) and series.width == pytest.approx(0.5)
    assert queue[0] == pytest.approx(3.0)  # (2 + 4) / 2
    assert queue[1] == pytest.approx(10.0)  # the failed reading in the same bin counts for nothing
    assert queue[2] == queue[3] == pytest.approx(10.0)  # carried over two bins without a sample …
    assert np.isnan(queue[4:10]).all()  # … then unknown, as a breaker's state is
    assert queue[10] == pytest.approx(7.0)


def test_each_gauge_gets_a_row_and_a_run_without_gauges_none() -> None:
    rows = gauge_rows("queue", {t: 5.0 + t for t in np.arange(0, 10, 0.25)})
    rows += gauge_rows("pool", {t: None for t in np.arange(0, 10, 0.25)})  # declared, never read
    with_gauges = timeline(_recording(rows), T0)
    assert list(with_gauges.gauges) == ["pool", "queue"]
    svg = timeline_svg(with_gauges, phases=[], faults=[], label="gauges")
    assert ">gauge queue (from probes)<" in svg and ">gauge pool (from probes)<" in svg
    assert ">never read<" in svg
    plain = timeline(_recording(), T0)
    assert plain.gauges == {}
    plain_svg = timeline_svg(plain, phases=[], faults=[], label="plain")
    # Strip, throughput (and its error-rate twin), latency, tiers, bands: the rows a chart always had.
    assert plain_svg.count('id="axes_') == 6 and svg.count('id="axes_') == 8
    assert "gauge" not in plain_svg


def test_the_report_of_a_run_with_a_gauge_charts_it(tmp_path: Path, reader: RunReader[Scenario]) -> None:
    samples = probes() + [
        ProbeSample(T0 + t, "gauge:queue_depth", True, None, 1.0, None, 3.0 + t)
        for t in np.arange(-1.0, 40.0, 0.25)
    ]
    run_dir = write_run_dir(tmp_path / "run", samples=samples)
    write_run_outputs(run_dir, reader)
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert page.count('class="chart"') == 1 and ">gauge queue_depth (from probes)<" in page
