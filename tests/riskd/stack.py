"""Launching a riskd stack: profiles, scorer, risk-api and toxiproxy-server under supervisord, in a working
directory of their own, on free loopback ports::

    with RiskdStack(flags=("broken_fallback",)) as stack:
        httpx.post(f"{stack.endpoints.service_url}/api/v2/score", json=body)

Layout of the working directory (a fresh temporary one unless ``workdir`` is given; only a temporary one is
removed by stop())::

    riskd.json          ports, flags and tuning, read by the three Python programs (--config)
    supervisord.conf    the four programs, autorestarted; supervisord's XML-RPC is the "pod API"
    toxiproxy.json      the proxies profiles-db and scorer-rpc, recreated at every toxiproxy start
    logs/               one log per program, plus supervisord's own

Binaries, free ports, XML-RPC and teardown come from :mod:`mlchaos.staging.supervisor`; the supervisord.conf
is rendered by :mod:`riskd.procs`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import subprocess
import tempfile
import time
import weakref
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

import httpx

from mlchaos.staging import supervisor
from mlchaos.staging.supervisor import StackError, StackStartError
from riskd import procs
from riskd.config import PROGRAMS, PROXIES, Ports, RiskdConfig
from riskd.procs import PYTHONPATH

__all__ = ["PYTHONPATH", "RiskdEndpoints", "RiskdStack", "StackError", "StackStartError"]

_POLL_S: Final = 0.1


@dataclass(frozen=True)
class RiskdEndpoints:
    service_url: str
    toxiproxy_url: str
    supervisor_url: str
    workdir: Path
    supervisord_pid: int
    flags: tuple[str, ...]
    profiles_url: str
    """The profile store directly, bypassing toxiproxy (diagnostics only)."""
    scorer_url: str
    proxies: dict[str, str] = field(default_factory=lambda: dict(PROXIES))
    programs: tuple[str, ...] = PROGRAMS

    def as_external_target(self) -> dict[str, Any]:
        return {
            "kind": "external",
            "service_url": self.service_url,
            "toxiproxy_url": self.toxiproxy_url,
            "supervisor_url": self.supervisor_url,
            "proxies": dict(self.proxies),
            "programs": list(self.programs),
        }


@dataclass
class _Running:
    config: RiskdConfig
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    temporary: bool

    def teardown(self) -> None:
        url = self.config.url(self.config.ports.supervisor)
        try:
            # SIGTERM to every program at once first: supervisord's own shutdown stops them one by one, a
            # second or more each.
            with (
                contextlib.suppress(OSError, xmlrpc.client.Error),
                supervisor.supervisor_proxy(url, 3.0) as proxy,
            ):
                proxy.supervisor.stopAllProcesses(False)
            supervisor.shutdown(url, self.process.pid, self.config.workdir)
            procs.sweep(self.config.workdir)
        finally:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
            self.log.close()
            if self.temporary:
                shutil.rmtree(self.config.workdir, ignore_errors=True)


class RiskdStack:
    """One riskd stack. ``flags``: defect flags (see ``riskd.config.DEFECTS``); ``tuning``: other
    :class:`RiskdConfig` fields, e.g. ``cold_start_s=0`` or ``recovery_s=1.0``."""

    def __init__(
        self,
        flags: tuple[str, ...] | list[str] = (),
        max_in_flight: int = 8,
        workdir: Path | None = None,
        **tuning: Any,
    ) -> None:
        self._settings: dict[str, Any] = {"flags": tuple(flags), "max_in_flight": max_in_flight, **tuning}
        RiskdConfig(
            Path("."), Ports(*[0] * 7), **self._settings
        )  # unknown flags or settings fail here, not later
        self._workdir = workdir
        self._running: _Running | None = None
        self._finalizer: weakref.finalize[[_Running], RiskdStack] | None = None
        self._endpoints: RiskdEndpoints | None = None
        self.ready_at: float | None = None
        """time.monotonic() when /readyz first answered 200 (the cold start runs from about then)."""

    @property
    def endpoints(self) -> RiskdEndpoints:
        if self._endpoints is None:
            raise StackError("the riskd stack is not running; call start() first")
        return self._endpoints

    @property
    def config(self) -> RiskdConfig:
        if self._running is None:
            raise StackError("the riskd stack is not running; call start() first")
        return self._running.config

    def start(self, timeout_s: float = 60.0, *, warm: bool = False) -> RiskdEndpoints:
        """Start every program and wait (at most ``timeout_s``) until risk-api is ready and both upstreams
        answer. ``warm``: also wait out the cold start. On failure everything is stopped again."""
        if self._running is not None:
            raise StackError("the riskd stack is already running")
        deadline = time.monotonic() + timeout_s
        try:
            config = self._spawn()
            self._wait(deadline, "supervisord's XML-RPC", self._supervisor_up)
            self._wait(deadline, "toxiproxy's proxies", self._proxies_up)
            for name, port in (("profiles", config.ports.profiles), ("scorer", config.ports.scorer)):
                self._wait(deadline, f"{name} /healthz", functools.partial(self._ok, port, "/healthz"))
            self._wait(deadline, "risk-api /readyz", lambda: self._ok(config.ports.api, "/readyz"))
            self.ready_at = time.monotonic()
            if warm:
                time.sleep(
                    max(0.0, min(self.ready_at + config.cold_start_s + 0.1, deadline) - time.monotonic())
                )
        except BaseException:
            self.stop()
            raise
        assert self._running is not None
        self._endpoints = RiskdEndpoints(
            service_url=config.url(config.ports.api),
            toxiproxy_url=config.url(config.ports.toxiproxy),
            supervisor_url=config.url(config.ports.supervisor),
            workdir=config.workdir,
            supervisord_pid=self._running.process.pid,
            flags=config.flags,
            profiles_url=config.url(config.ports.profiles),
            scorer_url=config.url(config.ports.scorer),
        )
        return self._endpoints

    def stop(self) -> None:
        """Stop every process of the stack and remove a temporary workdir. Idempotent."""
        self._endpoints = None
        self._running = None
        if self._finalizer is not None:
            self._finalizer()  # runs the teardown at most once, ever (also at interpreter exit)

    def __enter__(self) -> RiskdStack:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _spawn(self) -> RiskdConfig:
        # Binaries first: a missing one must cost nothing (no directory to clean up).
        supervisord, toxiproxy_server = supervisor.find_supervisord(), supervisor.find_toxiproxy_server()
        temporary = self._workdir is None
        workdir = (
            Path(tempfile.mkdtemp(prefix="riskd-")) if self._workdir is None else self._workdir
        ).resolve()
        try:
            (workdir / supervisor.LOG_DIR).mkdir(parents=True, exist_ok=True)
            config = RiskdConfig(workdir, Ports(*supervisor.free_ports(7)), **self._settings)
            config.write()
            (workdir / supervisor.TOXIPROXY_CONF).write_text(json.dumps(config.toxiproxy_proxies(), indent=2))
            conf = workdir / supervisor.SUPERVISORD_CONF
            conf.write_text(
                procs.render_supervisord_conf(config, procs.program_commands(config, toxiproxy_server))
            )
            log = (workdir / supervisor.LOG_DIR / "supervisord-stdout.log").open("wb")
            process = subprocess.Popen(
                [str(supervisord), "-n", "-c", str(conf)],
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C meant for the tests must not reach the stack unannounced
            )
        except BaseException:
            if temporary:  # nothing runs yet, so nobody else will remove it
                shutil.rmtree(workdir, ignore_errors=True)
            raise
        self._running = _Running(config, process, log, temporary)
        self._finalizer = weakref.finalize(self, _Running.teardown, self._running)
        return config

    def _wait(self, deadline: float, what: str, ready: Callable[[], bool]) -> None:
        """Poll ``ready``; fail fast if supervisord died or a program crashed at start."""
        assert self._running is not None
        while not ready():
            if self._running.process.poll() is not None:
                raise StackStartError(
                    self._diagnose(f"supervisord exited while waiting for {what}", "supervisord")
                )
            crashed = [name for name, state, _ in self._states() if state in ("BACKOFF", "FATAL")]
            if crashed:
                raise StackStartError(self._diagnose(f"{crashed[0]} crashed at start", crashed[0]))
            if time.monotonic() > deadline:
                raise StackStartError(self._diagnose(f"timed out waiting for {what}", None))
            time.sleep(_POLL_S)

    def _supervisor_up(self) -> bool:
        try:
            with supervisor.supervisor_proxy(self.config.url(self.config.ports.supervisor), 1.0) as proxy:
                return bool(proxy.supervisor.getState()["statename"] == "RUNNING")
        except (OSError, xmlrpc.client.Error):
            return False

    def _proxies_up(self) -> bool:
        try:
            response = httpx.get(f"{self.config.url(self.config.ports.toxiproxy)}/proxies", timeout=1.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and set(PROXIES.values()) <= set(response.json())

    def _ok(self, port: int, path: str) -> bool:
        try:
            return httpx.get(f"{self.config.url(port)}{path}", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def _states(self) -> list[tuple[str, str, int]]:
        try:
            return supervisor.program_states(self.config.url(self.config.ports.supervisor))
        except (OSError, xmlrpc.client.Error):
            return []

    def _diagnose(self, headline: str, culprit: str | None) -> str:
        states = self._states()
        if culprit is None:
            culprit = next((name for name, state, _ in states if state != "RUNNING"), "risk-api")
        program = "supervisord-stdout" if culprit == "supervisord" else culprit
        return "\n".join(
            [
                f"riskd stack did not start: {headline}",
                "programs: " + (", ".join(f"{n}={s}" for n, s, _ in states) or "(supervisord not reachable)"),
                f"--- last lines of {culprit}'s log ---",
                supervisor.log_tail(self.config.workdir, program),
            ]
        )
