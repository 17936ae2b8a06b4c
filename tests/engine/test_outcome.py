from __future__ import annotations

from pathlib import Path

from mlchaos.experiments.journal import Event, Journal
from mlchaos.experiments.loader import load_scenario
from mlchaos.experiments.outcome import load_recording
from mlchaos.experiments.targets import ExternalTarget

ROOT = Path(__file__).resolve().parents[2]


def test_a_run_that_never_began_a_phase_has_an_empty_recording(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append(Event.RUN_STARTED, detail="x")
    journal.append(Event.ABORTED, detail="the target is not ready")
    journal.close()
    scenario = load_scenario(ROOT / "scenarios" / "feature-store-outage.yaml").scenario
    recording = load_recording(tmp_path, scenario)
    assert recording.phases == () and recording.faults == () and recording.requests.empty


def test_a_recording_carries_the_tier_ladder_of_the_target_the_scenario_ran_on(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append(Event.RUN_STARTED, detail="x")
    journal.close()
    scenario = load_scenario(ROOT / "scenarios" / "feature-store-outage.yaml").scenario
    assert load_recording(tmp_path, scenario).tiers == ("primary", "fallback", "rules", "cache", "static")
    target = ExternalTarget(kind="external", service_url="http://127.0.0.1:1", tiers=("gold", "silver"))
    elsewhere = scenario.model_copy(update={"target": target})
    assert load_recording(tmp_path, elsewhere).tiers == ("gold", "silver")
