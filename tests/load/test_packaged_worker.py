"""What the Dockerfile installs works: `pip install .` from exactly the files it copies gives an `mlchaos` whose
load worker serves a master — the charts' worker pods run nothing else.

No container engine is available here, so the image itself is not built; this builds the same package the same
way (with build isolation, as `pip install .` in the image does) into a fresh virtualenv. Its dependencies are
borrowed from the test environment's site-packages through a .pth file instead of being downloaded again.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from load_fakes import DATASET, FakeTarget

from mlchaos.experiments.load.load_secret import SECRET_ENV
from mlchaos.experiments.load.runner import LoadRunner
from mlchaos.experiments.load.spec import LoadSpec

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(240)


def copied_by_dockerfile() -> list[str]:
    """The source paths of the Dockerfile's COPY lines (its build context is the repository)."""
    paths = []
    for line in (REPO / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if match := re.match(r"COPY\s+(.+)\s+\S+$", line):
            paths += [p.rstrip("/") for p in match.group(1).split()]
    return paths


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("image")
    context = work / "src"
    context.mkdir()
    for name in copied_by_dockerfile():
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, context / name)
    wheels = work / "wheels"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--wheel-dir",
            str(wheels),
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert build.returncode == 0, build.stderr
    environment = work / "venv"
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (wheel,) = wheels.glob("mlchaos-*.whl")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert install.returncode == 0, install.stderr
    return environment


def test_the_installed_package_is_the_one_that_runs(image_venv: Path) -> None:
    where = subprocess.run(
        [
            str(image_venv / "bin" / "python"),
            "-c",
            "import mlchaos.experiments.load.distributed as m; print(m.__file__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(image_venv)), f"imported from {where}, not from the installed wheel"
    usage = subprocess.run([str(image_venv / "bin" / "mlchaos"), "--help"], capture_output=True, text=True)
    assert usage.returncode == 0, usage.stderr
    assert "load-worker" in usage.stdout and "suite" in usage.stdout


def test_the_installed_load_worker_serves_a_master(
    image_venv: Path, target: FakeTarget, free_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "the-shared-load-secret-0123456789")  # the worker's and the master's
    master = f"127.0.0.1:{free_port}"
    worker = subprocess.Popen(
        [str(image_venv / "bin" / "mlchaos"), "load-worker", master, "--loads", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    spec = LoadSpec(
        base_url=target.url, users=2, spawn_rate=50, duration_s=1.5, wait_min_s=0.01, wait_max_s=0.02,
        stop_grace_s=1.0, flush_interval_s=0.1, requests=DATASET, workers=1, worker_bind=master,
    )  # fmt: skip
    runner = LoadRunner(spec)
    try:
        runner.start()
        assert runner.wait(timeout_s=30) == 0
        assert len(runner.records) == runner.sent == target.count > 0
        output, _ = worker.communicate(timeout=30)
        assert worker.returncode == 0 and "load 1: served" in output, output
    finally:
        runner.stop(timeout_s=5)
        if worker.poll() is None:
            worker.kill()
        worker.communicate(timeout=10)
