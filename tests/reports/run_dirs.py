"""Run directories built by hand from the project's own models and writers — no stack, no load, no clock.

A synthetic run (times in seconds after T0): load from -1 s; baseline 0–10 s; fault ``store-down`` injected at
10 s, reverted at 20 s; recovery 20–30 s; after 30–40 s. Primary answers, except during the fault: a burst of
errors for the first 0.3 s, then the fallback model; primary again from 21 s. The feature store's breaker opens
at 10.25 s, half-opens at 12 s, closes at 20.5 s.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from mlchaos.experiments.journal import JOURNAL_NAME, Entry, Event
from mlchaos.experiments.load.store import write_requests_parquet
from mlchaos.experiments.outcome import PROBES_NAME, REQUESTS_NAME
from mlchaos.experiments.records import PROBE_SCHEMA, ProbeSample, RequestRecord
from mlchaos.experiments.scenario import Scenario, scenario_record

T0 = 1_790_000_000.0
SECRET = "Bearer s3cr3t-t0ken-do-not-show"
XSS = "<script>alert('owned')</script>"

VERIFIERS: list[dict[str, Any]] = [
    {"type": "availability", "min": 0.95},
    {"type": "mttd", "fault": "store-down", "max": 1},
    {"type": "mttr", "fault": "store-down", "max": 5},
    {
        "type": "breaker",
        "dependency": "feature_store",
        "fault": "store-down",
        "open_within": 1,
        "close_within": 2,
    },
    {"type": "error_budget", "slo": 0.99, "max_burn": 1.0},
    {"type": "latency", "phase": "fault", "max_ms": 150},
]


def scenario_data(
    *, name: str = "synthetic-outage", target: Any = "embedded", **extra: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "description": "Feature store down for 10 s; the fallback model serves.",
        "target": target,
        "load": {"users": 4, "body": {"amount": 1}},
        "steady_state": {"window": "10s", "min_availability": 0.99, "min_tier_share": {"primary": 0.95}},
        "faults": [{"id": "store-down", "type": "feature_store_outage", "at": 0, "duration": "10s"}],
        "recovery": "10s",
        "verifiers": VERIFIERS,
    }
    data.update(extra)
    return data


def external_target() -> dict[str, Any]:
    return {
        "kind": "external",
        "service_url": "http://127.0.0.1:18080",
        "toxiproxy_url": "http://127.0.0.1:18474",
        "proxies": {"feature_store": "feature_store"},
        "headers": {"Authorization": SECRET, "X-Api-Key": "k3y-" + SECRET[-8:]},
    }


def requests(
    *, error: str = "HTTP 503: feature store unavailable", rate_hz: float = 50.0
) -> list[RequestRecord]:
    records = []
    step = 1.0 / rate_hz
    for i in range(int(41 * rate_hz)):
        t = -1.0 + i * step
        canary = "legit" if i % 5 == 0 else None
        if 10.0 <= t < 10.3:
            records.append(RequestRecord(T0 + t, 120.0, 503, error=error, label=canary))
        elif 10.3 <= t < 21.0:
            records.append(RequestRecord(T0 + t, 8.0 + (i % 7), 200, "fallback", 0.8, "legit", None, canary))
        else:
            records.append(RequestRecord(T0 + t, 20.0 + (i % 11), 200, "primary", 0.9, "legit", None, canary))
    return records


def probes(dependency: str = "feature_store") -> list[ProbeSample]:
    samples = []
    for i in range(int(41 / 0.25)):
        t = -1.0 + i * 0.25
        state = "open" if 10.25 <= t < 12 else "half_open" if 12 <= t < 20.5 else "closed"
        ts = T0 + t
        samples.append(
            ProbeSample(ts, "ready", state == "closed", "200" if state == "closed" else "503", 2.0)
        )
        samples.append(ProbeSample(ts, f"breaker:{dependency}", state == "closed", state, 1.0))
        opened = 1.0 if t >= 10.25 else 0.0
        samples.append(
            ProbeSample(ts, f"transitions:{dependency}:closed>open", True, None, 1.0, None, opened)
        )
    return samples


def journal(*, aborted: str | None = None, finished: bool = True, revert: bool = True) -> list[Entry]:
    events: list[tuple[float, Event, dict[str, Any]]] = [
        (-1.5, Event.RUN_STARTED, {"detail": "synthetic-outage"}),
        (0.0, Event.PHASE, {"phase": "baseline"}),
        (10.0, Event.PHASE, {"phase": "fault"}),
        (10.0, Event.INJECT_INTENT, {"fault_id": "store-down", "kind": "feature_store_outage", "undo": {}}),
        (10.01, Event.INJECTED, {"fault_id": "store-down", "kind": "feature_store_outage"}),
    ]
    if aborted is not None:
        events.append((15.0, Event.ABORTED, {"detail": aborted}))
    else:
        events.append((20.0, Event.PHASE, {"phase": "recovery"}))
    if revert:
        events.append((20.01, Event.REVERTED, {"fault_id": "store-down", "kind": "feature_store_outage"}))
    if aborted is None:
        events += [(30.0, Event.PHASE, {"phase": "after"}), (40.0, Event.PHASE, {"phase": "end"})]
    if finished:
        events.append((40.2, Event.RUN_FINISHED, {"detail": "rollback ok" if revert else "rollback FAILED"}))
    return [
        Entry(seq=i, ts=T0 + at, event=event, **fields) for i, (at, event, fields) in enumerate(events, 1)
    ]


def write_run_dir(
    directory: Path,
    *,
    data: dict[str, Any] | None = None,
    records: list[RequestRecord] | None = None,
    samples: list[ProbeSample] | None = None,
    entries: list[Entry] | None = None,
    raw_scenario: bool = False,
) -> Path:
    """A run directory as ``mlchaos run`` leaves it (before its reports). ``raw_scenario`` writes the scenario
    file by hand, secrets in clear — as a careless copy would — instead of through ``scenario_record``."""
    directory.mkdir(parents=True, exist_ok=True)
    data = data if data is not None else scenario_data()
    scenario = Scenario.model_validate(data)
    text = yaml.safe_dump(data, sort_keys=False) if raw_scenario else scenario_record(scenario)
    (directory / "scenario.yaml").write_text(text, encoding="utf-8")
    lines = [e.model_dump_json(exclude_none=True) for e in (entries if entries is not None else journal())]
    (directory / JOURNAL_NAME).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    write_requests_parquet(records if records is not None else requests(), directory / REQUESTS_NAME)
    rows = [asdict(s) for s in (samples if samples is not None else probes())]
    pq.write_table(pa.Table.from_pylist(rows, schema=PROBE_SCHEMA), directory / PROBES_NAME)
    return directory
