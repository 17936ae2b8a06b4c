"""mlchaos reports: what a run directory shows people (``report.html``) and machines (``junit.xml``,
``summary.json``).

Reports read recorded data only — they never reach a target, and never import the injectors (import-linter
contract in pyproject.toml). The experiments layer hands them a :class:`RunReader` with its own scenario loader
and verifiers; see :mod:`mlchaos.reports.run`.
"""

from mlchaos.reports.html import SuiteHeading
from mlchaos.reports.outputs import (
    REPORT_NAME,
    default_report_path,
    write_report,
    write_run_outputs,
    write_suite_outputs,
)
from mlchaos.reports.run import RunData, RunDirError, RunReader, RunStatus, ScenarioLike, read_run

__all__ = [
    "REPORT_NAME",
    "RunData",
    "RunDirError",
    "RunReader",
    "RunStatus",
    "ScenarioLike",
    "SuiteHeading",
    "default_report_path",
    "read_run",
    "write_report",
    "write_run_outputs",
    "write_suite_outputs",
]
