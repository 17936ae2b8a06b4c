"""The embedded reference stack: redis-server, toxiproxy-server, the primary model server and the gateway,
run by supervisord in a working directory of their own, on free loopback ports.

::

    with EmbeddedStack(StackOptions()) as stack:
        requests.post(f"{stack.endpoints.gateway_url}/predict", json=body)

Layout of the working directory (a fresh temporary one unless ``workdir`` is given; either way mode 0700, its
files 0600: only the stack's owner may read its secrets or reach its socket)::

    stack.json          ports, options and redis' password, read by the primary model server and the gateway
    supervisord.conf    the four programs; supervisord's XML-RPC is the stack's "pod API"
    supervisord.sock    that XML-RPC (``unix://`` URL): the only way to supervisord
    toxiproxy.json      the proxies feature_store, primary_model and cache, recreated at every toxiproxy start
    redis.conf          redis' settings: its password, and the commands it refuses
    redis/              the feature store snapshot a restarted redis reloads
    logs/               one log per program, plus supervisord's own

A stack whose owner died without stopping it (SIGKILL) keeps running; :func:`stop_orphaned_stack` ends it
from the endpoints the owner journalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import weakref
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Final

import httpx
import redis

from mlchaos.staging import supervisor
from mlchaos.staging.config import (
    HOST,
    MAX_UNIX_SOCKET_PATH,
    REDIS_PASSWORD_ENV,
    StackConfig,
    write_private,
)
from mlchaos.staging.data import feature_store_records
from mlchaos.staging.endpoints import PROGRAMS, PROXIES, StackEndpoints
from mlchaos.staging.options import StackOptions
from mlchaos.staging.supervisor import StackError, StackStartError

__all__ = ["EmbeddedStack", "StackError", "StackStartError", "stop_orphaned_stack"]

TEMPORARY_MARKER: Final = ".mlchaos-temporary"
"""In a workdir the stack created itself, and so may delete."""
_POLL_S: Final = 0.1


def stop_orphaned_stack(supervisor_url: str, supervisord_pid: int, workdir: Path) -> None:
    """Tear down a stack whose owning process died (e.g. for ``mlchaos rollback``): every process of it ends,
    and a temporary workdir is removed. Idempotent: fine if the stack is partly or entirely gone already."""
    supervisor.shutdown(supervisor_url, supervisord_pid, workdir)
    if (workdir / TEMPORARY_MARKER).exists():
        shutil.rmtree(workdir, ignore_errors=True)


def _private_directory(path: Path) -> Path:
    """``path`` as a directory only its owner may enter (0700): created so, or an existing one of ours made so.
    Refused if someone else owns it (or a link they planted leads to theirs)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    status = path.lstat()
    if not path.is_dir() or path.is_symlink() or status.st_uid != os.geteuid():
        raise StackStartError(
            f"{path} is not a directory of this user's (uid {os.geteuid()}): the stack keeps its control "
            "socket and redis' password there, so it must be the stack owner's own; choose another workdir"
        )
    path.chmod(0o700)
    return path


@dataclass
class _Running:
    """What a started stack owns; kept apart from the EmbeddedStack so that a finalizer can tear it down."""

    config: StackConfig
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    temporary: bool

    def teardown(self) -> None:
        try:
            supervisor.shutdown(self.supervisor_url, self.process.pid, self.config.workdir)
        finally:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)  # reap it (shutdown() has made sure it is gone)
            self.log.close()
            if self.temporary:
                shutil.rmtree(self.config.workdir, ignore_errors=True)

    @property
    def supervisor_url(self) -> str:
        return self.config.supervisor_url


class EmbeddedStack:
    """Starts and stops one embedded reference stack; as a context manager, ``with`` starts and stops it."""

    def __init__(self, options: StackOptions, *, workdir: Path | None = None) -> None:
        self.options = options
        self._workdir = workdir
        self._running: _Running | None = None
        self._finalizer: weakref.finalize[[_Running], EmbeddedStack] | None = None
        self._endpoints: StackEndpoints | None = None
        self._last_ready: str = "(never answered)"
        self._save_command = ""

    @property
    def endpoints(self) -> StackEndpoints:
        if self._endpoints is None:
            raise StackError("the stack is not running; call start() first")
        return self._endpoints

    def start(
        self, timeout_s: float = 60.0, *, on_spawned: Callable[[str, int, Path], None] | None = None
    ) -> StackEndpoints:
        """Start every program, load the feature store and wait until the gateway is ready to serve its
        primary tier. On failure everything is stopped again and :class:`StackStartError` says why.
        ``timeout_s`` must leave room for ``options.restart_delay_s`` (the primary server waits at start).

        ``on_spawned(supervisor_url, supervisord_pid, workdir)`` is called as soon as supervisord runs, before
        the wait: an owner that records it can tear the stack down even if it is killed during the start-up
        (see :func:`stop_orphaned_stack`)."""
        if self._running is not None:
            raise StackError("the stack is already running")
        deadline = time.monotonic() + timeout_s
        try:
            self._spawn()
            if on_spawned is not None:
                assert self._running is not None
                running = self._running
                on_spawned(running.supervisor_url, running.process.pid, running.config.workdir)
            self._wait_until(deadline, "supervisord's XML-RPC", self._supervisor_up)
            self._wait_until(deadline, "redis", self._redis_up)
            self._load_feature_store()
            self._wait_until(deadline, "the gateway's /health/ready", self._gateway_ready)
            # One canary through the whole chain warms up connections and the first predictions.
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{self._url('gateway_port')}/health/inference", timeout=5.0)
        except BaseException:
            self.stop()
            raise
        assert self._running is not None
        config = self._running.config
        self._endpoints = StackEndpoints(
            gateway_url=self._url("gateway_port"),
            primary_url=self._url("primary_port"),
            toxiproxy_url=self._url("toxiproxy_port"),
            supervisor_url=config.supervisor_url,
            redis_url=f"redis://{HOST}:{config.redis_port}/0",
            redis_password=config.redis_password,
            workdir=config.workdir,
            supervisord_pid=self._running.process.pid,
            proxies=dict(PROXIES),
            programs=PROGRAMS,
        )
        return self._endpoints

    def stop(self) -> None:
        """Stop every process of the stack and remove a temporary workdir. Idempotent."""
        self._endpoints = None
        self._running = None
        if self._finalizer is not None:
            self._finalizer()  # runs the teardown at most once, ever

    def __enter__(self) -> EmbeddedStack:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- start-up steps ------------------------------------------------------------------------------------

    def _spawn(self) -> None:
        binaries = supervisor.Binaries.find()
        if self._workdir is not None:
            self._spawn_in(self._workdir, binaries, temporary=False)
            return
        workdir = Path(tempfile.mkdtemp(prefix="mlchaos-stack-"))
        try:
            self._spawn_in(workdir, binaries, temporary=True)
        except BaseException:
            # Nothing runs yet that would remove it (the teardown exists once supervisord does): a failed start
            # leaves no directory behind.
            if self._running is None:
                shutil.rmtree(workdir, ignore_errors=True)
            raise

    def _spawn_in(self, workdir: Path, binaries: supervisor.Binaries, *, temporary: bool) -> None:
        workdir = _private_directory(workdir.resolve())
        _private_directory(workdir / supervisor.LOG_DIR)
        _private_directory(workdir / supervisor.REDIS_DIR)
        if temporary:
            write_private(workdir / TEMPORARY_MARKER, "")
        ports = supervisor.free_ports(4 + len(PROXIES))
        config = StackConfig(
            options=self.options,
            workdir=workdir,
            redis_port=ports[0],
            redis_password=secrets.token_hex(32),
            toxiproxy_port=ports[1],
            primary_port=ports[2],
            gateway_port=ports[3],
            proxy_ports=dict(zip(PROXIES, ports[4:], strict=True)),
        )
        if len(os.fsencode(config.supervisor_socket)) > MAX_UNIX_SOCKET_PATH:
            raise StackStartError(
                f"the workdir {workdir} is too long a path for supervisord's socket "
                f"({config.supervisor_socket}: at most {MAX_UNIX_SOCKET_PATH} bytes); choose a shorter one"
            )
        self._save_command = f"SAVE-{secrets.token_hex(16)}"
        config.write()
        write_private(workdir / supervisor.TOXIPROXY_CONF, json.dumps(config.toxiproxy_proxies(), indent=2))
        write_private(
            workdir / supervisor.REDIS_CONF, supervisor.render_redis_conf(config, self._save_command)
        )
        commands = supervisor.program_commands(config, binaries)
        conf = write_private(
            workdir / supervisor.SUPERVISORD_CONF, supervisor.render_supervisord_conf(config, commands)
        )
        log_path = write_private(workdir / supervisor.LOG_DIR / "supervisord-stdout.log", "")
        log = log_path.open("wb")
        process = subprocess.Popen(
            [str(binaries.supervisord), "-n", "-c", str(conf)],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # A session of its own: a Ctrl-C meant for the harness must not reach the stack unannounced;
            # stop() shuts it down in order.
            start_new_session=True,
            umask=0o077,  # what supervisord creates before it reads its own umask setting (its socket, pid file)
            # The programs read redis' password from stack.json; one in our environment (meant for the chart's
            # programs) would override it.
            env={name: value for name, value in os.environ.items() if name != REDIS_PASSWORD_ENV},
        )
        self._running = _Running(config, process, log, temporary)
        self._finalizer = weakref.finalize(self, _Running.teardown, self._running)

    def _url(self, port_field: str) -> str:
        assert self._running is not None
        config = self._running.config
        return config.url(getattr(config, port_field))

    def _wait_until(self, deadline: float, what: str, ready: Callable[[], bool]) -> None:
        """Poll ``ready`` until it holds; fail fast if supervisord died or a program crashed."""
        assert self._running is not None
        while True:
            if self._running.process.poll() is not None:
                raise StackStartError(
                    self._diagnose(f"supervisord exited while waiting for {what}", "supervisord")
                )
            if ready():
                return
            # BACKOFF: exited within startsecs, to be retried. At start-up that is a crash, not bad luck.
            crashed = [name for name, state, _ in self._states() if state in ("BACKOFF", "FATAL")]
            if crashed:
                raise StackStartError(self._diagnose(f"{crashed[0]} crashed at start", crashed[0]))
            if time.monotonic() > deadline:
                raise StackStartError(self._diagnose(f"timed out waiting for {what}", None))
            time.sleep(_POLL_S)

    def _supervisor_up(self) -> bool:
        assert self._running is not None
        try:
            with supervisor.supervisor_proxy(self._running.supervisor_url, 1.0) as proxy:
                state = proxy.supervisor.getState()
        except (OSError, xmlrpc.client.Error):
            return False
        return bool(state["statename"] == "RUNNING")

    def _redis_client(self) -> redis.Redis:
        assert self._running is not None
        config = self._running.config
        return redis.Redis(
            host=HOST,
            port=config.redis_port,
            password=config.redis_password,
            socket_timeout=5.0,
            socket_connect_timeout=1.0,
        )

    def _redis_up(self) -> bool:
        try:
            with self._redis_client() as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def _load_feature_store(self) -> None:
        """Directly into redis (not through a proxy), then one snapshot that a restarted redis reloads — through
        SAVE's secret name (see :func:`supervisor.render_redis_conf`)."""
        with self._redis_client() as client:
            pipe = client.pipeline(transaction=False)
            for key, fields in feature_store_records(self.options.seed).items():
                pipe.hset(key, mapping=fields)
            pipe.execute()
            client.execute_command(self._save_command)

    def _gateway_ready(self) -> bool:
        try:
            response = httpx.get(f"{self._url('gateway_port')}/health/ready", timeout=2.0)
        except httpx.HTTPError as exc:
            self._last_ready = f"{type(exc).__name__}: {exc}"
            return False
        self._last_ready = f"HTTP {response.status_code}: {response.text[:800]}"
        return response.status_code == 200

    # -- diagnosis -----------------------------------------------------------------------------------------

    def _states(self) -> list[tuple[str, str, int]]:
        assert self._running is not None
        try:
            return supervisor.program_states(self._running.supervisor_url)
        except (OSError, xmlrpc.client.Error):
            return []

    def _diagnose(self, headline: str, culprit: str | None) -> str:
        """The headline, each program's state, and the log tail of the program most likely at fault."""
        assert self._running is not None
        states = self._states()
        if culprit is None:  # the first program (in start order) that is not running, else the gateway
            culprit = next((name for name, state, _ in states if state != "RUNNING"), "gateway")
        workdir = self._running.config.workdir
        log = (
            supervisor.log_tail(workdir, "supervisord-stdout")
            if culprit == "supervisord"
            else supervisor.log_tail(workdir, culprit)
        )
        lines = [
            f"embedded stack did not start: {headline}",
            "programs: " + (", ".join(f"{n}={s}" for n, s, _ in states) or "(supervisord not reachable)"),
            f"gateway /health/ready: {self._last_ready}",
            f"--- last lines of {culprit}'s log ---",
            log,
        ]
        return "\n".join(lines)
