"""Run locks, as they were attacked: another local user planted a symbolic link where a root run would open its
lock file (the run truncated the link's target and made it world-writable), and two runs locked one target under
two names of it (``localhost:8080`` and ``127.0.0.1:8080``) at once.

Now the lock directory is the user's own (made 0700, checked before use: a directory another user made, or a
link, is refused saying so), lock files are opened without following links and never chmodded, and endpoints are
locked by canonical key, so every alias of one endpoint is one lock."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from other_user import OTHER_USER, other_uid, python_as_other_user, require_root
from support.local_processes import free_port

from mlchaos.experiments import lock_dir
from mlchaos.experiments.lock_dir import LOCK_DIR_ENV, lock_location
from mlchaos.experiments.runlock import ClusterScope, LockUnavailable, TargetBusy, acquire

VICTIM_TEXT = "root's secret, mode 0600\n"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A root-only file with content: what the planted links point at."""
    path = tmp_path / "victim"
    path.write_text(VICTIM_TEXT, encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture
def shared_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A stand-in for /tmp (root's, mode 1777, every user may create in it) that this test alone uses, made the
    machine's shared temporary directory of the lock code — so the real /tmp/mlchaos-0 is never touched."""
    path = Path(tempfile.mkdtemp(prefix="mlchaos-shared-tmp-"))
    path.chmod(0o1777)
    monkeypatch.setattr(lock_dir, "SHARED_TMP", path)
    monkeypatch.delenv(LOCK_DIR_ENV, raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def plant(source: str) -> None:
    """Runs ``source`` as the other user, which must succeed (the attack's preparation)."""
    done = python_as_other_user(source)
    assert done.returncode == 0, done.stderr


def assert_untouched(victim: Path) -> None:
    status = victim.stat()
    assert stat.S_IMODE(status.st_mode) == 0o600 and status.st_uid == 0
    assert victim.read_text(encoding="utf-8") == VICTIM_TEXT


def test_the_per_user_directory_precreated_by_another_user_is_refused(shared_tmp: Path, victim: Path) -> None:
    """The old attack on the new default path: the other user makes /tmp/mlchaos-0/locks first (as it could make
    the shared /tmp/mlchaos-locks) and plants the link the run's lock file would be."""
    require_root()
    port = free_port()
    locks = shared_tmp / "mlchaos-0" / "locks"
    plant(
        "import os\n"
        f"os.makedirs({str(locks)!r}, mode=0o777)\n"
        f"os.chmod({str(locks.parent)!r}, 0o777); os.chmod({str(locks)!r}, 0o777)\n"
        f"os.symlink({str(victim)!r}, {str(locks / f'local_{port}.lock')!r})\n"
    )
    assert lock_location().path == locks
    with pytest.raises(LockUnavailable) as refused:
        acquire([f"http://127.0.0.1:{port}"], run_dir=Path("run"), scenario="s")
    message = str(refused.value)
    assert f"{locks.parent} belongs to user {OTHER_USER} (uid {other_uid()[0]}), not to you" in message
    assert f"set {LOCK_DIR_ENV} to a directory of yours with mode 0700" in message
    assert_untouched(victim)


def test_a_link_planted_in_place_of_the_per_user_directory_is_refused(
    shared_tmp: Path, tmp_path: Path, victim: Path
) -> None:
    """A link to a directory root owns passes any owner check made through it: it must not be followed."""
    require_root()
    roots = tmp_path / "roots-private-dir"
    (roots / "locks").mkdir(mode=0o700, parents=True)
    roots.chmod(0o700)
    port = free_port()
    (roots / "locks" / f"local_{port}.lock").symlink_to(victim)
    plant(f"import os; os.symlink({str(roots)!r}, {str(shared_tmp / 'mlchaos-0')!r})")
    with pytest.raises(LockUnavailable, match=r"mlchaos-0 is a symbolic link \(to .*roots-private-dir\)"):
        acquire([f"http://127.0.0.1:{port}"], run_dir=Path("run"), scenario="s")
    assert_untouched(victim)


def test_a_lock_dir_env_pointing_at_another_users_directory_is_refused(
    monkeypatch: pytest.MonkeyPatch, victim: Path
) -> None:
    require_root()
    shared = Path(tempfile.mkdtemp(prefix="mlchaos-planted-"))
    shared.chmod(0o1777)
    try:
        theirs = shared / "locks"
        port = free_port()
        plant(
            f"import os; os.mkdir({str(theirs)!r}, 0o777); os.chmod({str(theirs)!r}, 0o777)\n"
            f"os.symlink({str(victim)!r}, {str(theirs / f'local_{port}.lock')!r})\n"
        )
        monkeypatch.setenv(LOCK_DIR_ENV, str(theirs))
        with pytest.raises(LockUnavailable, match=f"{theirs} belongs to user {OTHER_USER}"):
            acquire([f"http://localhost:{port}"], run_dir=Path("run"), scenario="s")
        assert_untouched(victim)
    finally:
        python_as_other_user(f"import shutil; shutil.rmtree({str(shared / 'locks')!r}, ignore_errors=True)")
        os.rmdir(shared)


def test_the_run_makes_its_directory_private_and_the_other_user_cannot_plant_in_it(
    shared_tmp: Path, victim: Path
) -> None:
    require_root()
    port = free_port()
    with acquire([f"http://127.0.0.1:{port}"], run_dir=Path("run"), scenario="s"):
        locks = shared_tmp / "mlchaos-0" / "locks"
        for directory in (locks.parent, locks):
            assert stat.S_IMODE(directory.lstat().st_mode) == 0o700
        lock_file = locks / f"local_{port}.lock"
        assert stat.S_IMODE(lock_file.lstat().st_mode) == 0o600
        tried = python_as_other_user(
            f"import os; os.symlink({str(victim)!r}, {str(locks / f'local_{port + 1}.lock')!r})"
        )
        assert tried.returncode != 0 and "PermissionError" in tried.stderr
    assert_untouched(victim)


def test_a_link_in_place_of_a_lock_file_is_never_followed(tmp_path: Path, victim: Path) -> None:
    """Even in a private directory (only its owner could plant it there): a lock file is never opened through a
    link."""
    locks = tmp_path / "locks"
    locks.mkdir(mode=0o700)
    port = free_port()
    (locks / f"local_{port}.lock").symlink_to(victim)
    with pytest.raises(LockUnavailable, match=f"local_{port}.lock is a symbolic link, not a lock file"):
        acquire([f"http://127.0.0.1:{port}"], run_dir=Path("run"), scenario="s", directory=locks)
    assert_untouched(victim)


def test_a_lock_directory_open_to_others_is_refused_not_chmodded(tmp_path: Path) -> None:
    locks = tmp_path / "locks"
    locks.mkdir()
    locks.chmod(0o755)
    with pytest.raises(LockUnavailable, match=r"has mode 0755: group or others can use it.*chmod 700"):
        acquire(["http://127.0.0.1:1"], run_dir=Path("run"), scenario="s", directory=locks)
    assert stat.S_IMODE(locks.stat().st_mode) == 0o755


def test_xdg_runtime_dir_is_used_only_when_it_is_ours(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    require_root()
    monkeypatch.delenv(LOCK_DIR_ENV, raising=False)
    mine = tmp_path / "run-user"
    mine.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(mine))
    assert lock_location().path == mine / "mlchaos" / "locks"
    os.chown(mine, *other_uid())
    assert lock_location().path == Path("/tmp") / f"mlchaos-{os.geteuid()}" / "locks"


@pytest.mark.parametrize(
    "alias",
    [
        "http://127.0.0.1:{port}",
        "http://LOCALHOST.:{port}/predict",
        "https://[::1]:{port}",
        "http://0.0.0.0:{port}",
    ],
)
def test_every_alias_of_a_locked_endpoint_is_refused_naming_the_holder(tmp_path: Path, alias: str) -> None:
    port = free_port()
    first = acquire(
        [f"http://localhost:{port}"], run_dir=tmp_path / "first", scenario="first", directory=tmp_path
    )
    with first, pytest.raises(TargetBusy) as busy:
        acquire([alias.format(port=port)], run_dir=tmp_path / "second", scenario="second", directory=tmp_path)
    message = str(busy.value)
    assert f"another mlchaos run is using {alias.format(port=port)}" in message
    assert f"pid {os.getpid()}, scenario 'first', run directory {tmp_path / 'first'}" in message
    assert f"which it names http://localhost:{port}" in message


def test_default_ports_make_a_url_without_a_port_the_same_endpoint(tmp_path: Path) -> None:
    with acquire(["https://localhost"], run_dir=tmp_path / "a", scenario="a", directory=tmp_path):
        with pytest.raises(TargetBusy):
            acquire(["http://127.0.0.1:443"], run_dir=tmp_path / "b", scenario="b", directory=tmp_path)
        # another port of the same host is another endpoint
        acquire(["http://127.0.0.1:80"], run_dir=tmp_path / "c", scenario="c", directory=tmp_path).release()


def test_kubernetes_locks_are_per_cluster_namespace_and_workload(tmp_path: Path) -> None:
    gateway = ClusterScope("https://localhost:6443", "staging", "deployment/gateway")
    with acquire([gateway], run_dir=tmp_path / "a", scenario="a", directory=tmp_path):
        with pytest.raises(TargetBusy, match="deployment/gateway in namespace staging of the cluster"):
            alias = ClusterScope("https://127.0.0.1:6443/", "staging", "deployment/gateway")
            acquire([alias], run_dir=tmp_path / "b", scenario="b", directory=tmp_path)
        for other in (
            ClusterScope("https://127.0.0.1:6443", "staging", "deployment/model"),
            ClusterScope("https://127.0.0.1:6443", "dev", "deployment/gateway"),
            ClusterScope("https://127.0.0.1:7443", "staging", "deployment/gateway"),
        ):
            acquire([other], run_dir=tmp_path / "c", scenario="c", directory=tmp_path).release()


def test_a_unix_socket_is_one_endpoint_however_its_path_is_written(tmp_path: Path) -> None:
    stack = tmp_path / "stack"
    stack.mkdir()
    (tmp_path / "link").symlink_to(stack)
    socket_path = stack / "supervisord.sock"
    with acquire([f"unix://{socket_path}"], run_dir=tmp_path / "a", scenario="a", directory=tmp_path):
        for alias in (
            f"unix://{tmp_path}/link/supervisord.sock",
            f"unix://{stack}/../stack/supervisord.sock",
        ):
            with pytest.raises(TargetBusy):
                acquire([alias], run_dir=tmp_path / "b", scenario="b", directory=tmp_path)
        acquire(
            [f"unix://{stack}/other.sock"], run_dir=tmp_path / "c", scenario="c", directory=tmp_path
        ).release()
