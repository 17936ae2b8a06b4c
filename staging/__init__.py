"""The embedded reference ML stack: a small but real fraud-scoring service with a tiered fallback chain,
circuit breakers, timeouts, health checks and metrics, run by supervisord with toxiproxy in front of its
dependencies.

Start one with :class:`EmbeddedStack` (or ``python -m mlchaos.staging``); the programs themselves live in
:mod:`mlchaos.staging.primary` and :mod:`mlchaos.staging.gateway`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mlchaos.staging.endpoints import PROGRAMS, PROXIES, StackEndpoints
from mlchaos.staging.options import BreakerOptions, DriftOptions, ReviewOptions, StackFlag, StackOptions

if TYPE_CHECKING:
    from mlchaos.staging.stack import EmbeddedStack, stop_orphaned_stack
    from mlchaos.staging.supervisor import BinaryNotFoundError, StackError, StackStartError

__all__ = [
    "PROGRAMS",
    "PROXIES",
    "BinaryNotFoundError",
    "BreakerOptions",
    "DriftOptions",
    "EmbeddedStack",
    "ReviewOptions",
    "StackEndpoints",
    "StackError",
    "StackFlag",
    "StackOptions",
    "StackStartError",
    "stop_orphaned_stack",
]

# Imported on first use: whoever only needs the options (a scenario loader, or a program of the stack itself)
# should not pay for httpx, redis and numpy.
_LAZY = {
    "EmbeddedStack": "mlchaos.staging.stack",
    "stop_orphaned_stack": "mlchaos.staging.stack",
    "BinaryNotFoundError": "mlchaos.staging.supervisor",
    "StackError": "mlchaos.staging.supervisor",
    "StackStartError": "mlchaos.staging.supervisor",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
