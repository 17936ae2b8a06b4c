"""From a run directory to verdicts: everything here reads only what the run recorded.

``mlchaos run`` calls this at the end of a run, and ``mlchaos report RUN_DIR`` can call it again later: the same
files give the same verdicts.

A recording holds everything (the timeline shows the warm-up too); verdicts judge only its part from the
baseline's start to the run's end (:func:`judged`) — the end of the after phase or, for a run stopped by a
guardrail or a signal, the stop: its verdicts are then partial, and verdicts.json says so.

A run killed before it could save requests.parquet (SIGKILL, OOM, a lost node) left the stream it recorded into:
its recording is read from there, up to the last batch written, and :func:`recording_cut` says how far it goes —
the reports judge it as partial, up to that point.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc

from mlchaos.experiments.journal import JOURNAL_NAME, Entry, Event, Stop, partial_stop, read_journal
from mlchaos.experiments.load.recording import STREAM_NAME, read_stream
from mlchaos.experiments.load.store import read_requests_parquet, read_requests_stream
from mlchaos.experiments.redaction import redact_data
from mlchaos.experiments.scenario import Scenario
from mlchaos.experiments.targets import ladder_of
from mlchaos.experiments.verifiers import resilience_score, run_verifier
from mlchaos.experiments.verifiers.base import (
    FaultWindow,
    Phase,
    PhaseWindow,
    Recording,
    Verdict,
    empty_probes,
    empty_requests,
)
from mlchaos.experiments.verifiers.steady_state_holds import steady_state_verdict

REQUESTS_NAME = "requests.parquet"
PROBES_NAME = "probes.parquet"
VERDICTS_NAME = "verdicts.json"
END_PHASE = "end"


def _phases(entries: list[Entry], ended_at: float) -> tuple[PhaseWindow, ...]:
    marks = [(e.phase, e.ts) for e in entries if e.event == Event.PHASE and e.phase]
    if not marks:  # e.g. a run that failed its preflight never began a phase
        return ()
    windows = []
    for (name, start), (_, end) in zip(marks, [*marks[1:], (END_PHASE, ended_at)], strict=True):
        if name != END_PHASE:
            windows.append(PhaseWindow(Phase(name), start, end))
    return tuple(windows)


def _faults(entries: list[Entry]) -> tuple[FaultWindow, ...]:
    injected: dict[str, Entry] = {}
    heals: dict[str, bool] = {}
    reverted: dict[str, float] = {}
    for entry in entries:
        if entry.fault_id is None:
            continue
        if entry.event == Event.INJECT_INTENT:
            heals[entry.fault_id] = bool(entry.heals_itself)
        elif entry.event == Event.INJECTED:
            injected.setdefault(entry.fault_id, entry)
        elif entry.event == Event.REVERTED and entry.fault_id in injected:
            reverted.setdefault(entry.fault_id, entry.ts)
    return tuple(
        FaultWindow(fid, e.kind or "", e.ts, reverted.get(fid), heals.get(fid, False))
        for fid, e in injected.items()
    )


def load_recording(run_dir: Path, scenario: Scenario) -> Recording:
    """Everything the run recorded. Its zero (``started_at``) is the baseline's start (a warm-up comes before
    it); its end (``ended_at``) the end phase's, or the stop of a run stopped by a guardrail or a signal."""
    entries = read_journal(run_dir / JOURNAL_NAME)
    requests_path, probes_path, stream = run_dir / REQUESTS_NAME, run_dir / PROBES_NAME, run_dir / STREAM_NAME
    if requests_path.exists():
        requests = read_requests_parquet(requests_path)
    elif stream.exists():  # killed before it was saved: what was written of it
        requests = read_requests_stream(stream)
    else:
        requests = empty_requests()
    probes = pd.read_parquet(probes_path) if probes_path.exists() else empty_probes()
    ends = [e.ts for e in entries if e.event == Event.PHASE and e.phase == END_PHASE]
    phases = [e for e in entries if e.event == Event.PHASE]
    first = phases[0].ts if phases else entries[0].ts if entries else 0.0
    started = next((e.ts for e in phases if e.phase == Phase.BASELINE.value), first)
    stop = partial_stop(entries)
    last = float(requests["start"].max()) if not requests.empty else started
    ended = ends[0] if ends else stop.at if stop is not None else last
    return Recording(
        requests=requests,
        probes=probes.sort_values("ts", kind="stable").reset_index(drop=True),
        phases=_phases(entries, ended),
        faults=_faults(entries),
        started_at=started,
        ended_at=ended,
        steady_state=scenario.steady_state,
        tiers=ladder_of(scenario.target),
    )


def judged(recording: Recording) -> Recording:
    """The part of a recording verdicts judge: requests that started from the baseline's start until the run's
    end — not the load's ramp or warm-up before, nor what the load sent while a stopped run was rolled back.
    Probes from the end on go too; earlier ones stay, as the reference value of counters (probe verifiers
    measure from the baseline or from a fault on, never before)."""
    requests, probes = recording.requests, recording.probes
    starts = requests["start"]
    if starts.is_monotonic_increasing:  # as read: a slice, which is no copy
        first, end = starts.searchsorted([recording.started_at, recording.ended_at], side="left")
        inside = requests.iloc[first:end]
    else:
        inside = requests[(starts >= recording.started_at) & (starts < recording.ended_at)]
    return replace(
        recording,
        requests=inside.reset_index(drop=True),
        probes=probes[probes["ts"] < recording.ended_at].reset_index(drop=True),
    )


def recording_cut(run_dir: Path) -> Stop | None:
    """How far the recording of a run killed before it saved requests.parquet goes, as a stop at its last
    recorded request (``by``: ``recording partial: N requests up to HH:MM:SS UTC``); ``None`` when the recording
    was saved whole, or there is none."""
    stream = run_dir / STREAM_NAME
    if (run_dir / REQUESTS_NAME).exists() or not stream.exists():
        return None
    count, last = 0, None
    for batch in read_stream(stream, ["start"]):
        count += batch.num_rows
        if batch.num_rows:
            latest = pc.max(batch.column("start")).as_py()
            last = latest if last is None else max(last, latest)
    if last is None:
        at = stream.stat().st_mtime
        return Stop(
            "recording partial: no request recorded", at, "a kill (recording partial: no request recorded)"
        )
    when = datetime.fromtimestamp(last, tz=UTC).strftime("%H:%M:%S UTC")
    text = f"recording partial: {count:,} requests up to {when}"
    return Stop(text, last, f"a kill ({text})")


def compute_verdicts(recording: Recording, scenario: Scenario) -> list[Verdict]:
    """Every verdict on the judged part of ``recording`` (:func:`judged`), in the report's order."""
    recording = judged(recording)
    verdicts = [steady_state_verdict(recording, Phase.BASELINE)]
    verdicts += [run_verifier(spec, recording) for spec in scenario.verifiers]
    verdicts.append(steady_state_verdict(recording, Phase.AFTER))
    return verdicts


def write_verdicts(
    run_dir: Path, scenario: Scenario, verdicts: list[Verdict], *, stop: Stop | None = None
) -> Path:
    """verdicts.json. A run stopped by ``stop`` has ``"partial": true`` and ``"stopped": {"by", "reason", "at"}``
    (ISO 8601, UTC); it never has ``"passed": true``, whatever its partial verdicts say."""
    path = run_dir / VERDICTS_NAME
    stopped = None
    if stop is not None:
        at = datetime.fromtimestamp(stop.at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        stopped = {"by": stop.by, "reason": stop.reason, "at": at}
    document = {
        "scenario": scenario.name,
        "partial": stop is not None,
        "stopped": stopped,
        "passed": stop is None and all(v.passed for v in verdicts),
        "score": resilience_score(verdicts),
        "verdicts": [asdict(v) for v in verdicts],
    }
    document = redact_data(document)  # an explanation may quote an error, and so a URL
    path.write_text(json.dumps(document, indent=2, allow_nan=False, default=str) + "\n", encoding="utf-8")
    return path
