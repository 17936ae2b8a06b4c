"""How the reports read a run directory: with this layer's scenario model and verifiers (see mlchaos.reports)."""

from __future__ import annotations

from pathlib import Path

import yaml

from mlchaos.experiments.loader import ScenarioInvalid, load_scenario
from mlchaos.experiments.outcome import compute_verdicts, load_recording, recording_cut
from mlchaos.experiments.scenario import Scenario
from mlchaos.reports import RunReader


def recorded_scenario(path: Path) -> Scenario:
    """The scenario a run recorded. Its dataset or locustfile only drove the load and no verifier reads it, so a
    run directory copied off its machine (a CI artifact) can be reported even where that path does not exist."""
    try:
        return load_scenario(path).scenario
    except ScenarioInvalid as exc:
        load_files = ("load.dataset", "load.locustfile", "load.user_classes")
        if any(not problem.where.startswith(load_files) for problem in exc.problems):
            raise
        return Scenario.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


RUN_READER = RunReader(
    load_scenario=recorded_scenario,
    load_recording=load_recording,
    compute_verdicts=compute_verdicts,
    recording_cut=recording_cut,
)
"""How the reports read a run directory: with this layer's scenario model and verifiers (see mlchaos.reports)."""
