"""`make check` stays the inner loop it claims to be: it deselects every declared need, and its guard fails a
test that starts a heavy program without declaring it."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from support import fast_loop, needs

ROOT = Path(__file__).resolve().parents[1]


def test_make_check_deselects_every_need_and_sets_the_guard() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    expression = re.search(r"^FAST_TESTS := (.+)$", makefile, re.MULTILINE)
    assert expression is not None, "the Makefile defines FAST_TESTS"
    assert expression.group(1).split(" and ") == [f"not {need}" for need in fast_loop.NEEDS]
    check = makefile[makefile.index("\ncheck:") :].split("\n\n")[0]
    assert f'{fast_loop.ENV}=1 $(BIN)/pytest -p no:cacheprovider -m "$(FAST_TESTS)"' in check


def test_every_need_is_a_registered_marker() -> None:
    pytest_section = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]
    registered = {line.split(":")[0] for line in pytest_section["ini_options"]["markers"]}
    assert set(fast_loop.NEEDS) <= registered
    assert set(fast_loop.PROGRAMS.values()) | set(fast_loop.MODULES.values()) <= set(fast_loop.NEEDS)


@pytest.mark.parametrize("where", sorted(needs.PATH_NEEDS))
def test_every_path_given_a_need_still_exists(where: str) -> None:
    """A renamed file or test would otherwise lose its markers silently (and slow `make check` down, or fail it)."""
    path, _, test = where.partition("::")
    assert (needs.TESTS / path).exists(), f"{where}: no such file or folder under tests/"
    if test:
        assert f"def {test.split('::')[-1]}(" in (needs.TESTS / path).read_text(encoding="utf-8"), where


def test_the_tables_give_only_needs() -> None:
    given = {m for ms in [*needs.PATH_NEEDS.values(), *needs.FIXTURE_NEEDS.values()] for m in ms}
    assert given <= set(fast_loop.NEEDS)


@pytest.mark.parametrize(
    ("argv", "need"),
    [
        (["/usr/bin/supervisord", "-n", "-c", "x.conf"], ("stack", "supervisord")),
        ([Path("/work/.venv/bin/mlchaos"), "run", "s.yaml"], ("e2e", "mlchaos")),
        ("/usr/bin/prometheus --config.file=p.yml", ("prometheus", "prometheus")),
        ([sys.executable, "-m", "mlchaos.staging", "--json"], ("stack", "python -m mlchaos.staging")),
        ([b"/cache/k8s/kube-apiserver"], ("cluster", "kube-apiserver")),
        (
            [sys.executable, "-m", "mlchaos.experiments.load.child", "spec.json"],
            ("load", "python -m mlchaos.experiments.load.child"),
        ),
        ([sys.executable, "-c", "print()"], None),
        (["ruff", "check", "."], None),
    ],
)
def test_heavy_programs_are_recognised_by_their_command_line(
    argv: object, need: tuple[str, str] | None
) -> None:
    assert fast_loop.need_of(argv) == need


def test_the_guard_fails_a_test_that_starts_one_and_lets_ordinary_commands_run() -> None:
    before = subprocess.Popen.__init__
    with fast_loop.guarding():
        with pytest.raises(
            pytest.fail.Exception, match=r"starts supervisord, so it needs the `stack` marker"
        ):
            subprocess.Popen(["/nonexistent/supervisord", "-n"])
        done = subprocess.run(
            [sys.executable, "-c", "print('ok')"], capture_output=True, text=True, timeout=30
        )
    assert done.stdout == "ok\n"
    assert subprocess.Popen.__init__ is before  # restored: nothing leaks past the block
