"""The one place mlchaos talks to supervisord, our local "pod API", over its XML-RPC interface.

``xmlrpc.client`` has no timeout of its own; the transport below adds one, and supervisord's faults are translated
into :class:`TargetUnreachable` / :class:`TargetMisconfigured`.
"""

from __future__ import annotations

import http.client
import xmlrpc.client
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mlchaos.injectors.base import InjectorError, TargetMisconfigured, TargetUnreachable

# supervisord's process states that mean "it is, or is about to be, serving".
_UP_STATES = frozenset({"RUNNING", "STARTING", "BACKOFF"})


class _TimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self._timeout_s = timeout_s

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        connection = super().make_connection(host)
        connection.timeout = self._timeout_s
        return connection


@dataclass(frozen=True)
class ProgramState:
    name: str
    state: str
    pid: int

    @property
    def up(self) -> bool:
        return self.state in _UP_STATES


class SupervisorClient:
    """supervisord at ``url`` (e.g. ``http://127.0.0.1:9001/RPC2``); every call gives up after ``timeout_s``."""

    def __init__(self, url: str, *, timeout_s: float = 3.0) -> None:
        self.url = url if url.rstrip("/").endswith("RPC2") else url.rstrip("/") + "/RPC2"
        self._timeout_s = timeout_s
        self._server = xmlrpc.client.ServerProxy(self.url, transport=_TimeoutTransport(timeout_s))

    @contextmanager
    def _call(self, what: str) -> Iterator[Any]:
        """One XML-RPC exchange; the connection is closed after it (calls are rare, sockets must not leak)."""
        try:
            yield self._server.supervisor
        except xmlrpc.client.Fault as exc:
            if "BAD_NAME" in exc.faultString:
                raise TargetMisconfigured(
                    f"supervisord at {self.url} has no such program while {what}"
                ) from exc
            raise InjectorError(f"supervisord at {self.url} refused {what}: {exc.faultString}") from exc
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            raise TargetUnreachable(
                f"supervisord at {self.url} did not answer within {self._timeout_s:g}s while {what}"
            ) from exc
        finally:
            self._server("close")()

    def programs(self) -> list[ProgramState]:
        with self._call("listing programs") as rpc:
            infos = rpc.getAllProcessInfo()
        return [ProgramState(i["name"], i["statename"], int(i["pid"])) for i in infos]

    def program(self, name: str) -> ProgramState:
        with self._call(f"reading program '{name}'") as rpc:
            try:
                info = rpc.getProcessInfo(name)
            except xmlrpc.client.Fault as exc:
                if "BAD_NAME" not in exc.faultString:
                    raise
                known = ", ".join(sorted(p.name for p in self.programs())) or "none"
                raise TargetMisconfigured(
                    f"supervisord at {self.url} has no program '{name}' (it has: {known})"
                ) from exc
        return ProgramState(info["name"], info["statename"], int(info["pid"]))

    def kill(self, name: str, signal: str = "KILL") -> None:
        with self._call(f"sending SIG{signal} to '{name}'") as rpc:
            rpc.signalProcess(name, signal)

    def ensure_running(self, name: str) -> bool:
        """Start the program unless it is up or coming up; ``True`` if it had to be started."""
        if self.program(name).up:
            return False
        with self._call(f"starting '{name}'") as rpc:
            try:
                rpc.startProcess(name, False)
            except xmlrpc.client.Fault as exc:
                if "ALREADY_STARTED" in exc.faultString:
                    return False
                raise
        return True
