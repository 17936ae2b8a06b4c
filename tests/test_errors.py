"""One error tree and one exit-code mapping.

Every exception class the harness defines derives from ``MlchaosError`` (so callers, the CLI's top level and the
library API tell an anticipated error from a bug by one ``isinstance``), and every place that turns a run's end
into a number uses ``ExitCode``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import requests

from mlchaos.experiments import errors
from mlchaos.experiments.errors import ExitCode, MlchaosError
from mlchaos.experiments.file_limits import FileTooLarge
from mlchaos.experiments.http_bounds import AnswerTooLarge, DeadlinePassed
from mlchaos.experiments.load.load_secret import LoadSecretError
from mlchaos.experiments.lock_dir import LockDirUnsafe
from mlchaos.reports import RunStatus

# Run in a fresh interpreter: the load child's modules import Locust, whose gevent monkey-patching must come
# before anything imports ssl (as it does in the load child) and must never happen in the test process.
_WALK = textwrap.dedent(
    """
    from gevent import monkey
    monkey.patch_all()
    import importlib, inspect, json, pkgutil
    import mlchaos.experiments, mlchaos.injectors, mlchaos.reports
    from mlchaos.experiments.errors import MlchaosError
    found = {}
    for package in (mlchaos.experiments, mlchaos.injectors, mlchaos.reports):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.endswith(".__main__"):  # importing it would run it
                continue
            module = importlib.import_module(info.name)
            for name, value in vars(module).items():
                if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == info.name:
                    found[f"{info.name}.{name}"] = issubclass(value, MlchaosError)
    print(json.dumps(found))
    """
)


def test_every_exception_class_of_the_harness_derives_from_mlchaos_error() -> None:
    walked = subprocess.run(
        [sys.executable, "-c", _WALK], capture_output=True, text=True, timeout=120, check=False
    )
    assert walked.returncode == 0, walked.stderr[-3000:]
    found: dict[str, bool] = json.loads(walked.stdout.splitlines()[-1])
    # The walk reaches every package: the injectors', the load child's, the Kubernetes adapter's, the reports'.
    for known in (
        "mlchaos.injectors.base.InjectorError",
        "mlchaos.experiments.load.guard.HostRefused",
        "mlchaos.experiments.kubernetes.client.KubernetesError",
        "mlchaos.reports.run.RunDirError",
    ):
        assert known in found
    outside = sorted(name for name, rooted in found.items() if not rooted)
    assert outside == [], f"not under MlchaosError (mlchaos.experiments.errors): {outside}"


def test_second_bases_that_callers_rely_on_are_kept() -> None:
    # pydantic locates a ValueError raised in a validator; Locust and requests catch their own types.
    assert issubclass(FileTooLarge, ValueError) and issubclass(LoadSecretError, ValueError)
    assert issubclass(DeadlinePassed, requests.Timeout) and issubclass(DeadlinePassed, TimeoutError)
    assert issubclass(AnswerTooLarge, requests.RequestException)
    assert issubclass(LockDirUnsafe, OSError)


def test_exit_codes_are_the_documented_ones() -> None:
    assert {code.name: int(code) for code in ExitCode} == {
        "OK": 0,
        "VERIFIER_FAILED": 1,
        "INVALID": 2,
        "ABORTED": 3,
        "ROLLBACK_FAILED": 4,
    }


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (RunStatus.PASSED, ExitCode.OK),
        (RunStatus.FAILED, ExitCode.VERIFIER_FAILED),
        (RunStatus.INVALID, ExitCode.INVALID),
        (RunStatus.ABORTED, ExitCode.ABORTED),
        (RunStatus.ROLLBACK_FAILED, ExitCode.ROLLBACK_FAILED),
    ],
)
def test_a_run_status_maps_to_its_exit_code(status: RunStatus, code: ExitCode) -> None:
    """summary.json and junit.xml write the code ``mlchaos run`` exits with; as numbers, not names."""
    assert status.exit_code is code
    assert json.dumps({"exit_code": status.exit_code}) == f'{{"exit_code": {int(code)}}}'
    assert str(status.exit_code) == str(int(code))


@pytest.mark.parametrize(
    ("family", "code"),
    [
        (errors.InvalidInput, ExitCode.INVALID),
        (errors.TargetUnusable, ExitCode.INVALID),
        (errors.FaultError, ExitCode.ABORTED),
        (errors.LoadFailure, ExitCode.ABORTED),
        (errors.RunStopped, ExitCode.ABORTED),
    ],
)
def test_an_unhandled_error_exits_with_its_familys_code(family: type[MlchaosError], code: ExitCode) -> None:
    assert issubclass(family, MlchaosError) and family.exit_code is code
