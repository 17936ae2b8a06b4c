"""Run by ``test_extension.py`` in a fresh interpreter that has the ``acme_chaos`` distribution on its path, as
after ``pip install acme-chaos``: loads a scenario using the package's fault and verifier, plans it, applies
and rolls back the fault through mlchaos' journal, judges a synthetic recording, and prints what happened as
JSON. Usage: ``python drive.py SCENARIO RUN_DIR``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from mlchaos.experiments.journal import Event, Journal
from mlchaos.experiments.loader import ScenarioInvalid, load_scenario
from mlchaos.experiments.plan import make_plan, placeholder_endpoints
from mlchaos.experiments.rollback import revert_outstanding
from mlchaos.experiments.targets import EmbeddedTarget
from mlchaos.experiments.verifiers import run_verifier, verifier_kinds
from mlchaos.experiments.verifiers.base import FaultWindow, Phase, PhaseWindow, Recording, empty_probes
from mlchaos.experiments.verifiers.steady_state import SteadyState
from mlchaos.injectors import INJECTORS, fault_kinds


def recording(fault: FaultWindow) -> Recording:
    """Ten requests a second for 30 s: in the fault phase (10–20 s) one in four gets no answer; none in
    ``after``, which the run never reached."""
    rows = [(t / 10, 0 if 100 <= t < 200 and t % 4 == 0 else 200) for t in range(300)]
    requests = pd.DataFrame(rows, columns=["start", "status"]).assign(latency_ms=12.0, tier="primary")
    phases = (
        PhaseWindow(Phase.BASELINE, 0, 10),
        PhaseWindow(Phase.FAULT, 10, 20),
        PhaseWindow(Phase.RECOVERY, 20, 30),
    )
    return Recording(requests, empty_probes(), phases, (fault,), 0.0, 30.0, SteadyState())


def main(scenario_path: Path, run_dir: Path) -> dict[str, Any]:
    try:
        scenario = load_scenario(scenario_path).scenario
    except ScenarioInvalid as exc:
        return {"problems": [str(problem) for problem in exc.problems]}
    assert isinstance(scenario.target, EmbeddedTarget)
    plan = make_plan(scenario, placeholder_endpoints(scenario.target))
    [planned] = plan.faults
    spec, undo, injector = planned.spec, planned.plan.undo, INJECTORS[planned.spec.type]
    injector.check(undo)
    # As the engine does: the undo is journalled before the fault is applied, and the rollback reads it back.
    journal = Journal(run_dir)
    journal.append(Event.INJECT_INTENT, fault_id=spec.id, kind=spec.type, undo=undo.model_dump())
    injector.inject(spec, undo)
    journal.append(Event.INJECTED, fault_id=spec.id, kind=spec.type)
    flags_during = json.loads(Path(spec.file).read_text())  # type: ignore[attr-defined]
    rollback = revert_outstanding(journal)
    window = FaultWindow(spec.id, spec.type, 10.0, 20.0, spec.heals_itself)
    verdicts = [run_verifier(verifier, recording(window)) for verifier in scenario.verifiers]
    return {
        "kinds": {
            kind.spec.__name__: [kind.module, kind.distribution]
            for kind in (fault_kinds()[spec.type], verifier_kinds()["unanswered_share"])
        },
        "touches": list(planned.plan.touches),
        "description": planned.plan.description,
        "inject_at": [step.offset for step in plan.steps if step.fault is not None],
        "flags_during": flags_during,
        "flags_after": json.loads(Path(spec.file).read_text()),  # type: ignore[attr-defined]
        "reverted": rollback.reverted,
        "verdicts": [dataclasses.asdict(verdict) for verdict in verdicts],
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]))))
