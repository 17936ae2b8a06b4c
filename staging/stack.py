"""The embedded reference stack: redis-server, toxiproxy-server, the primary model server and the gateway,
run by supervisord in a working directory of their own, on free loopback ports.

::

    with EmbeddedStack(StackOptions()) as stack:
        requests.post(f"{stack.endpoints.gateway_url}/predict", json=body)

Layout of the working directory (a fresh temporary one unless ``workdir`` is given)::

    stack.json          ports and options, read by the primary model server and the gateway
    supervisord.conf    the four programs; supervisord's XML-RPC is the stack's "pod API"
    toxiproxy.json      the proxies feature_store, primary_model and cache, recreated at every toxiproxy start
    redis/              the feature store snapshot a restarted redis reloads
    logs/               one log per program, plus supervisord's own

A stack whose owner died without stopping it (SIGKILL) keeps running; :func:`stop_orphaned_stack` ends it
from the endpoints the owner journalled.
"""

from __future__ import annotations

import contextlib
import json
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
from mlchaos.staging.config import HOST, StackConfig
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
        return self.config.url(self.config.supervisor_port)


class EmbeddedStack:
    """Starts and stops one embedded reference stack; as a context manager, ``with`` starts and stops it."""

    def __init__(self, options: StackOptions, *, workdir: Path | None = None) -> None:
        self.options = options
        self._workdir = workdir
        self._running: _Running | None = None
        self._finalizer: weakref.finalize[[_Running], EmbeddedStack] | None = None
        self._endpoints: StackEndpoints | None = None
        self._last_ready: str = "(never answered)"

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
                on_spawned(
                    self._url("supervisor_port"), self._running.process.pid, self._running.config.workdir
                )
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
            supervisor_url=self._url("supervisor_port"),
            redis_url=f"redis://{HOST}:{config.redis_port}/0",
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
        temporary = self._workdir is None
        workdir = Path(tempfile.mkdtemp(prefix="mlchaos-stack-")) if self._workdir is None else self._workdir
        workdir = workdir.resolve()
        (workdir / supervisor.LOG_DIR).mkdir(parents=True, exist_ok=True)
        (workdir / supervisor.REDIS_DIR).mkdir(exist_ok=True)
        if temporary:
            (workdir / TEMPORARY_MARKER).touch()
        ports = supervisor.free_ports(5 + len(PROXIES))
        config = StackConfig(
            options=self.options,
            workdir=workdir,
            supervisor_port=ports[0],
            redis_port=ports[1],
            toxiproxy_port=ports[2],
            primary_port=ports[3],
            gateway_port=ports[4],
            proxy_ports=dict(zip(PROXIES, ports[5:], strict=True)),
        )
        config.write()
        (workdir / supervisor.TOXIPROXY_CONF).write_text(json.dumps(config.toxiproxy_proxies(), indent=2))
        commands = supervisor.program_commands(config, binaries)
        conf = workdir / supervisor.SUPERVISORD_CONF
        conf.write_text(supervisor.render_supervisord_conf(config, commands))
        log = (workdir / supervisor.LOG_DIR / "supervisord-stdout.log").open("wb")
        process = subprocess.Popen(
            [str(binaries.supervisord), "-n", "-c", str(conf)],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # A session of its own: a Ctrl-C meant for the harness must not reach the stack unannounced;
            # stop() shuts it down in order.
            start_new_session=True,
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
        try:
            with supervisor.supervisor_proxy(self._url("supervisor_port"), 1.0) as proxy:
                state = proxy.supervisor.getState()
        except (OSError, xmlrpc.client.Error):
            return False
        return bool(state["statename"] == "RUNNING")

    def _redis_client(self) -> redis.Redis:
        assert self._running is not None
        return redis.Redis(
            host=HOST, port=self._running.config.redis_port, socket_timeout=5.0, socket_connect_timeout=1.0
        )

    def _redis_up(self) -> bool:
        try:
            with self._redis_client() as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def _load_feature_store(self) -> None:
        """Directly into redis (not through a proxy), then one snapshot that a restarted redis reloads."""
        with self._redis_client() as client:
            pipe = client.pipeline(transaction=False)
            for key, fields in feature_store_records(self.options.seed).items():
                pipe.hset(key, mapping=fields)
            pipe.execute()
            client.save()

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
        try:
            return supervisor.program_states(self._url("supervisor_port"))
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
