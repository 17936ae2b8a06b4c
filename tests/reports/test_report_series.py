"""Resampling: bounded points whatever the run's size, the right numbers per bin, and a chart that stays small."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from mlchaos.experiments.records import PROBE_SCHEMA
from mlchaos.experiments.verifiers.base import FaultWindow, Phase, PhaseWindow, Recording, empty_probes
from mlchaos.experiments.verifiers.steady_state import SteadyState
from mlchaos.reports.charts import TIER_PALETTE, timeline_svg
from mlchaos.reports.series import MAX_BINS, NO_ANSWER, UNKNOWN_TIER, timeline

T0 = 1_790_000_000.0


def _recording(n: int, seconds: float, probes: pd.DataFrame | None = None) -> Recording:
    rng = np.random.default_rng(7)
    start = T0 + np.sort(rng.uniform(0, seconds, n))
    in_fault = (start >= T0 + seconds / 3) & (start < T0 + 2 * seconds / 3)
    frame = pd.DataFrame(
        {
            "start": start,
            "latency_ms": rng.exponential(20, n),
            "status": np.where(rng.random(n) < 0.01, 503, 200).astype("int32"),
            "tier": np.where(in_fault, "fallback", "primary").astype(object),
            "confidence": rng.random(n),
            "prediction": "legit",
            "error": None,
            "label": None,
        }
    )
    third = seconds / 3
    return Recording(
        requests=frame,
        probes=empty_probes() if probes is None else probes,
        phases=(
            PhaseWindow(Phase.BASELINE, T0, T0 + third),
            PhaseWindow(Phase.FAULT, T0 + third, T0 + 2 * third),
            PhaseWindow(Phase.AFTER, T0 + 2 * third, T0 + seconds),
        ),
        faults=(FaultWindow("f", "feature_store_outage", T0 + third, T0 + 2 * third, False),),
        started_at=T0,
        ended_at=T0 + seconds,
        steady_state=SteadyState(),
    )


def test_a_short_run_gets_half_second_bins_with_exact_per_bin_numbers() -> None:
    run = _recording(4000, 40.0)
    series = timeline(run, T0)
    assert series.width == pytest.approx(0.5) and len(series.starts) == 80
    requests = run.requests
    first = requests[requests["start"] < T0 + 0.5]
    assert series.rps[0] == pytest.approx(len(first) / 0.5)
    assert series.p99_ms[0] == pytest.approx(np.percentile(first["latency_ms"], 99))
    assert series.p50_ms[0] == pytest.approx(np.percentile(first["latency_ms"], 50))
    assert series.error_rate[0] == pytest.approx((first["status"] >= 500).mean())
    shares = sum(series.tiers.values())
    assert np.allclose(shares[series.rps > 0], 1.0)  # tiers + "no answer" cover every request
    assert series.tiers["fallback"][40] > 0.9 and series.tiers["primary"][10] > 0.9


def test_an_hour_at_500_rps_is_at_most_600_points_per_series_and_a_small_chart() -> None:
    run = _recording(1_800_000, 3600.0)
    series = timeline(run, T0)
    assert len(series.starts) == MAX_BINS and series.width == pytest.approx(6.0)
    assert series.rps.sum() * series.width == pytest.approx(1_800_000)
    svg = timeline_svg(series, phases=[("baseline", 0, 1200)], faults=[("f", 1200, 2400)], label="hour")
    assert len(svg.encode()) < 600_000  # the whole report stays far under 3 MB


def test_breaker_bands_take_each_bins_worst_state_and_show_gaps_as_unknown() -> None:
    rows = []
    for ts in np.arange(0, 40, 0.25):
        state = "open" if 10 <= ts < 10.3 else "closed"
        if 20 <= ts < 25:
            continue  # metrics unreadable: no state sampled for 5 s
        rows.append({"ts": T0 + ts, "check": "breaker:store", "ok": state == "closed", "value": state})
        rows.append({"ts": T0 + ts, "check": "ready", "ok": True, "value": "200"})
    probes = pd.DataFrame(rows).reindex(columns=PROBE_SCHEMA.names)
    series = timeline(_recording(4000, 40.0, probes), T0)
    bands = series.breakers["store"]
    assert ("open" in {s for _, _, s in bands}) and ("unknown" in {s for _, _, s in bands})
    opened = next(b for b in bands if b[2] == "open")
    assert opened[0] == pytest.approx(10.0) and opened[1] == pytest.approx(0.5)  # a 0.3 s opening still shows
    unknown = next(b for b in bands if b[2] == "unknown")
    assert unknown[0] == pytest.approx(
        21.0
    )  # the last state (19.75 s) is carried over two bins, then unknown
    assert {s for _, _, s in series.ready} == {"ready", "unknown"}


def test_chart_labels_cannot_inject_markup() -> None:
    probes = pd.DataFrame(
        [{"ts": T0 + 1, "check": "breaker:<script>alert(1)</script>", "ok": True, "value": "closed"}]
    ).reindex(columns=PROBE_SCHEMA.names)
    svg = timeline_svg(
        timeline(_recording(100, 10.0, probes), T0), phases=[], faults=[], label='x" onload="y'
    )
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert 'aria-label="x&quot; onload=&quot;y"' in svg


def test_tiers_follow_the_targets_ladder_with_answers_off_it_in_their_own_band() -> None:
    run = _recording(4000, 40.0)
    tiers = np.where(run.requests["tier"] == "primary", "gold", "bronze").astype(object)
    tiers[::50] = "gold-ish"  # a tier the target never declared
    run = replace(run, requests=run.requests.assign(tier=tiers), tiers=("gold", "silver", "bronze"))
    series = timeline(run, T0)
    # Best first; silver never answered, so it has no band.
    assert list(series.tiers) == ["gold", "bronze", UNKNOWN_TIER, NO_ANSWER]
    shares = sum(series.tiers.values())
    assert np.allclose(shares[series.rps > 0], 1.0)
    unknown_answers = ((tiers == "gold-ish") & (run.requests["status"] == 200)).sum()
    assert (series.tiers[UNKNOWN_TIER] * series.rps * series.width).sum() == pytest.approx(unknown_answers)
    svg = timeline_svg(series, phases=[], faults=[], label="ladder")
    # Colours go by place on the ladder: gold the first, bronze the third (silver's is kept for silver).
    assert TIER_PALETTE[0] in svg and TIER_PALETTE[2] in svg and TIER_PALETTE[1] not in svg
    assert ">unknown tier<" in svg and ">gold<" in svg
