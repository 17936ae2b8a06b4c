"""What a distributed load's master and workers say to each other (the conversation is described in
:mod:`~mlchaos.experiments.load.distributed`): the names of their Locust custom messages, the mlchaos version both
must run, and how long the master waits for the workers' last reports."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

HELLO = "mlchaos_hello"
SPEC = "mlchaos_spec"
READY = "mlchaos_ready"
REJECTED = "mlchaos_rejected"
START = "mlchaos_start"
BUSY = "mlchaos_busy"
ROWS = "mlchaos_rows"
DONE = "mlchaos_done"

REPORT_SLACK_S = 5.0
"""How long past ``stop_grace_s`` the master waits for the workers' last rows and counts."""


def mlchaos_version() -> str:
    try:
        return version("mlchaos")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"
