"""Long runs are analysed a chunk of requests at a time, and by the codes of their categorical columns (issue 16:
10 M requests in 1 GiB). Neither may change a result: each test compares the memory-saving path with the plain one
on recordings with everything a run can hold — silences, 5xx, timeouts, 4xx, unknown and missing tiers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic import SPECS, T0, fault, recording
from test_steady_state_and_time import reference_hold

import mlchaos.experiments.verifiers.mttd as mttd_module
import mlchaos.experiments.verifiers.steady_state as steady_state_module
import mlchaos.experiments.verifiers.tiers as tiers_module
import mlchaos.reports.series as series_module
from mlchaos.experiments.verifiers import VERIFIERS, run_verifier
from mlchaos.experiments.verifiers.base import Recording
from mlchaos.experiments.verifiers.frames import selected
from mlchaos.experiments.verifiers.steady_state import SteadyState, first_sustained_hold
from mlchaos.experiments.verifiers.tiers import from_tiers, label_counts, labels, on_ladder, ranks
from mlchaos.reports.series import timeline

LADDER = ("primary", "fallback", "rules")


def mixed_run(seed: int, n: int = 3000) -> Recording:
    """60 s of requests at random gaps (some over the 1 s silence limit), an outage from 10 to 20 s."""
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.choice([0.005, 0.01, 0.02, 1.5], n, p=[0.5, 0.35, 0.149, 0.001]))
    times = times * 60.0 / times[-1]
    outage = (times >= 10) & (times < 20)
    status = rng.choice([200, 200, 200, 503, 0, 404], n)
    status = np.where(outage & (rng.random(n) < 0.5), 503, status)
    tier = rng.choice(np.array(["primary", "primary", "fallback", "rules", "gold", None], dtype=object), n)
    tier = np.where(outage & (tier == "primary"), "fallback", tier)
    requests = pd.DataFrame(
        {
            "start": T0 + times,
            "status": status,
            "tier": np.where(status == 200, tier, None),
            "latency_ms": rng.choice([5.0, 49.0, 50.0, 51.0, 500.0], n, p=[0.3, 0.3, 0.2, 0.195, 0.005]),
        }
    )
    lenient = SteadyState(window=2, min_availability=0.6, max_p99_ms=60.0)  # so that mttr finds a recovery
    return recording(requests, faults=(fault(),), tiers=LADDER, hypothesis=lenient)


@pytest.fixture(params=[1, 2], ids=lambda seed: f"seed-{seed}")
def run(request: pytest.FixtureRequest) -> Recording:
    return mixed_run(request.param)


@pytest.mark.parametrize("chunk", [3, 500])
def test_the_recovery_search_finds_the_same_start_chunk_by_chunk(
    run: Recording, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    hypotheses = [
        SteadyState(min_availability=0.6, max_p99_ms=50.0, min_tier_share={"primary": 0.3}),
        SteadyState(min_availability=0.5),
        SteadyState(min_availability=0.7, max_p99_ms=60.0),
    ]
    whole = [first_sustained_hold(h, run.requests, T0 + 5, T0 + 60, 2.0) for h in hypotheses]
    assert any(found is not None for found in whole)  # the comparison is not all None
    monkeypatch.setattr(steady_state_module, "CHUNK_ROWS", chunk)
    assert [first_sustained_hold(h, run.requests, T0 + 5, T0 + 60, 2.0) for h in hypotheses] == whole


def test_every_verdict_is_the_same_chunk_by_chunk(run: Recording, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = [spec for spec in SPECS if spec["type"] in ("mttr", "mttd", "steady_state", "fallback_engaged")]
    parsed = [VERIFIERS[str(raw["type"])].spec.model_validate(raw) for raw in specs]
    whole = [run_verifier(spec, run) for spec in parsed]
    assert all(verdict.measured is not None for verdict in whole)
    monkeypatch.setattr(steady_state_module, "CHUNK_ROWS", 5)
    monkeypatch.setattr(mttd_module, "CHUNK_ROWS", 5)
    assert [run_verifier(spec, run) for spec in parsed] == whole


def _arrays(run: Recording) -> dict[str, np.ndarray]:
    line = timeline(run, T0)
    return {
        "rps": line.rps,
        "error_rate": line.error_rate,
        "p50": line.p50_ms,
        "p99": line.p99_ms,
        **{f"tier.{name}": share for name, share in line.tiers.items()},
    }


def test_the_timeline_is_the_same_chunk_by_chunk_and_in_any_row_order(
    run: Recording, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _arrays(run)
    assert set(whole) >= {"tier.primary", "tier.unknown tier", "tier.no answer"}
    monkeypatch.setattr(series_module, "CHUNK_ROWS", 13)
    chunked = _arrays(run)
    shuffled = run.requests.sample(frac=1.0, random_state=3).reset_index(drop=True)  # one sort of it all
    unordered = _arrays(Recording(**{**run.__dict__, "requests": shuffled}))
    for name, values in whole.items():
        np.testing.assert_array_equal(chunked[name], values, err_msg=name)
        np.testing.assert_array_equal(unordered[name], values, err_msg=name)


def test_selected_rows_are_what_loc_gives(run: Recording) -> None:
    requests = run.requests.iloc[100:2000]  # a slice, as verifiers get one
    mask = (requests["status"] == 200) & requests["tier"].notna()
    columns = ["start", "tier", "latency_ms", "status", "flagged", "error"]
    expected = requests.loc[mask, columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(selected(requests, mask, columns), expected)


def test_tier_helpers_say_on_codes_what_they_say_on_strings(run: Recording) -> None:
    categorical = run.requests.iloc[5:]
    assert isinstance(categorical["tier"].dtype, pd.CategoricalDtype)
    strings = categorical.assign(tier=categorical["tier"].astype(object))
    for ladder in (LADDER, ("fallback",), ("gold", "none")):
        assert ranks(categorical, ladder).tolist() == ranks(strings, ladder).tolist()
        assert on_ladder(categorical, ladder).tolist() == on_ladder(strings, ladder).tolist()
        assert from_tiers(categorical, ["primary", "gold"], ladder).tolist() == (
            from_tiers(strings, ["primary", "gold"], ladder).tolist()
        )
    for frame in (categorical, categorical[categorical["tier"].notna()]):  # with and without missing tiers
        plain = frame["tier"].cat.add_categories(["none"]).fillna("none").cat.remove_unused_categories()
        assert list(labels(frame).cat.categories) == list(plain.cat.categories)
        assert labels(frame).tolist() == plain.tolist()
        assert labels(frame).value_counts().to_dict() == plain.value_counts().to_dict()


@pytest.mark.parametrize("chunk", [1, 3, 64])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chunks_keep_the_recovery_search_to_its_definition_at_the_p99_edge(
    seed: int, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As test_steady_state_and_time's p99-edge test (windows of 200 requests holding 2 slow ones or more), with
    # chunks far smaller than a window: the slow-request counts must be taken from each chunk's own rows.
    rng = np.random.default_rng(seed)
    latency = np.full(800, 5.0)
    latency[rng.choice(800, size=8, replace=False)] = 51.0
    requests = pd.DataFrame(
        {"start": T0 + np.arange(800) * 0.01, "status": 200, "tier": "primary", "latency_ms": latency}
    )
    hypothesis = SteadyState(min_availability=0.9, max_p99_ms=50.0)
    expected = reference_hold(hypothesis, requests, T0, T0 + 8.0, 2.0)
    monkeypatch.setattr(steady_state_module, "CHUNK_ROWS", chunk)
    assert first_sustained_hold(hypothesis, requests, T0, T0 + 8.0, 2.0) == expected


@pytest.mark.parametrize("chunk", [1, 4, 1000])
def test_label_counts_are_value_counts_of_the_strings_ties_in_first_seen_order(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ties on purpose (2 each): pandas orders them as they first occur, which the report's tier list shows.
    tiers = ["fallback", None, "primary", "gold", "primary", "fallback", None, "gold", "rules"]
    frame = recording(
        pd.DataFrame({"start": T0 + np.arange(9.0), "status": 200, "tier": tiers, "latency_ms": 5.0}),
        tiers=LADDER,
    ).requests
    monkeypatch.setattr(tiers_module, "CHUNK_ROWS", chunk)
    for normalize in (False, True):
        expected = labels(frame).astype(object).value_counts(normalize=normalize)
        assert list(expected.index) == ["fallback", "none", "primary", "gold", "rules"]
        pd.testing.assert_series_equal(label_counts(frame, normalize=normalize), expected)
