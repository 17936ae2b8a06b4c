"""mlchaos: chaos experiments for ML staging services.

The library API (docs/library.md) — what ``mlchaos run`` and ``mlchaos suite`` do, from Python::

    from mlchaos.experiments import run_scenario, run_suite

    outcome = run_scenario(Path("scenario.yaml"), out=Path("mlchaos-runs"))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlchaos.experiments.engine import StopRequest
    from mlchaos.experiments.errors import ExitCode
    from mlchaos.experiments.loader import ScenarioInvalid, load_scenario
    from mlchaos.experiments.run_outcome import RunOutcome
    from mlchaos.experiments.run_view import Output
    from mlchaos.experiments.runs import (
        RunSettings,
        SuiteOutcome,
        load_scenario_files,
        run_scenario,
        run_suite,
    )
    from mlchaos.experiments.suite import SuiteInvalid

_PUBLIC = {
    "ExitCode": "mlchaos.experiments.errors",
    "Output": "mlchaos.experiments.run_view",
    "RunOutcome": "mlchaos.experiments.run_outcome",
    "RunSettings": "mlchaos.experiments.runs",
    "ScenarioInvalid": "mlchaos.experiments.loader",
    "StopRequest": "mlchaos.experiments.engine",
    "SuiteInvalid": "mlchaos.experiments.suite",
    "SuiteOutcome": "mlchaos.experiments.runs",
    "load_scenario": "mlchaos.experiments.loader",
    "load_scenario_files": "mlchaos.experiments.runs",
    "run_scenario": "mlchaos.experiments.runs",
    "run_suite": "mlchaos.experiments.runs",
}
__all__ = [
    "ExitCode",
    "Output",
    "RunOutcome",
    "RunSettings",
    "ScenarioInvalid",
    "StopRequest",
    "SuiteInvalid",
    "SuiteOutcome",
    "load_scenario",
    "load_scenario_files",
    "run_scenario",
    "run_suite",
]


def __getattr__(name: str) -> Any:
    # Imported on first use, not here: every mlchaos.experiments module runs this file first, and the load child
    # must import Locust (which monkey-patches the process) before anything else.
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
