"""The guard of `make check`: with MLCHAOS_FAST_LOOP=1, a test that starts a program of the heavy kinds fails.

`make check` deselects the tests marked with a need (tests/conftest.py); one that starts supervisord, a cluster,
Prometheus, Chromium, `mlchaos` or the load generator without saying so would otherwise slow the inner loop down
unnoticed. The guard wraps ``subprocess.Popen``, through which every one of them is started (the embedded stack
started in-process included), and fails the test naming the marker it lacks.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import PurePath
from typing import Any

import pytest

ENV = "MLCHAOS_FAST_LOOP"

NEEDS = ("stack", "cluster", "prometheus", "browser", "e2e", "load", "lint", "realnode")
"""Every marker `make check` deselects (pyproject.toml describes each)."""

PROGRAMS: dict[str, str] = {
    "supervisord": "stack",
    "redis-server": "stack",
    "toxiproxy-server": "stack",
    "etcd": "cluster",
    "kube-apiserver": "cluster",
    "kube-controller-manager": "cluster",
    "kube-scheduler": "cluster",
    "kwok": "cluster",
    "helm": "cluster",
    "kubelet": "realnode",
    "containerd": "realnode",
    "prometheus": "prometheus",
    "prometheus-pushgateway": "prometheus",
    "promtool": "prometheus",  # Debian's prometheus package ships it: the inner loop may not have it
    "chromium": "browser",
    "mlchaos": "e2e",
}
"""The executables a test in the inner loop must not start, and the marker of the need each stands for."""

MODULES: dict[str, str] = {
    "mlchaos.staging": "stack",
    "mlchaos.experiments.cli": "e2e",
    "mlchaos": "e2e",
    "mlchaos.experiments.load.child": "load",
}
"""The same for ``python -m MODULE``."""


def enabled() -> bool:
    return os.environ.get(ENV) == "1"


def need_of(args: Any) -> tuple[str, str] | None:
    """The marker a command line needs and the program that makes it so, or None for an ordinary command."""
    argv: Sequence[Any] = [args] if isinstance(args, str | bytes | os.PathLike) else list(args)
    if not argv:
        return None
    words = [os.fsdecode(word) for word in argv]
    program = PurePath(words[0].split()[0]).name
    if program in PROGRAMS:
        return PROGRAMS[program], program
    if program.startswith("python") and "-m" in words[:-1]:
        module = words[words.index("-m") + 1]
        if module in MODULES:
            return MODULES[module], f"python -m {module}"
    return None


@contextlib.contextmanager
def guarding() -> Iterator[None]:
    """While inside, starting a heavy program fails the test (``pytest.fail``: no ``except Exception`` hides it)."""
    original = subprocess.Popen.__init__

    def guarded_init(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        need = need_of(args)
        if need is not None:
            marker, program = need
            pytest.fail(
                f"`make check` ({ENV}=1) runs only tests that need no {', '.join(NEEDS)}; this test starts "
                f"{program}, so it needs the `{marker}` marker (pytestmark, or PATH_NEEDS in tests/support/needs.py)",
                pytrace=False,
            )
        original(self, args, *rest, **kwargs)

    subprocess.Popen.__init__ = guarded_init  # type: ignore[method-assign]
    try:
        yield
    finally:
        subprocess.Popen.__init__ = original  # type: ignore[method-assign]
