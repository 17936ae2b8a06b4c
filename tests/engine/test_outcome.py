from __future__ import annotations

from pathlib import Path

from mlchaos.experiments.journal import Event, Journal
from mlchaos.experiments.loader import load_scenario
from mlchaos.experiments.outcome import load_recording

ROOT = Path(__file__).resolve().parents[2]


def test_a_run_that_never_began_a_phase_has_an_empty_recording(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append(Event.RUN_STARTED, detail="x")
    journal.append(Event.ABORTED, detail="the target is not ready")
    journal.close()
    scenario = load_scenario(ROOT / "scenarios" / "feature-store-outage.yaml").scenario
    recording = load_recording(tmp_path, scenario)
    assert recording.phases == () and recording.faults == () and recording.requests.empty
