"""The one place mlchaos talks to supervisord, our local "pod API", over its XML-RPC interface.

supervisord is reached over HTTP (``http://HOST:PORT/RPC2``, with basic credentials when the target declares
``supervisor_auth``) or over its unix socket (``unix:///PATH``: the embedded stack's, which only its owner can
open). ``xmlrpc.client`` has no timeout of its own; the transports below add one, and supervisord's faults are
translated into :class:`TargetUnreachable` / :class:`TargetMisconfigured`.
"""

from __future__ import annotations

import base64
import http.client
import socket
import xmlrpc.client
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mlchaos.experiments.targets import UNIX_SOCKET_URL, SupervisorAuth
from mlchaos.injectors.base import InjectorError, TargetMisconfigured, TargetUnreachable

# supervisord's process states that mean "it is, or is about to be, serving".
_UP_STATES = frozenset({"RUNNING", "STARTING", "BACKOFF"})


class _TimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout_s: float, headers: list[tuple[str, str]]) -> None:
        super().__init__(headers=headers)
        self._timeout_s = timeout_s

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        connection = super().make_connection(host)
        connection.timeout = self._timeout_s
        return connection


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout_s: float) -> None:
        super().__init__("localhost", timeout=timeout_s)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class _UnixTransport(_TimeoutTransport):
    def __init__(self, path: str, timeout_s: float, headers: list[tuple[str, str]]) -> None:
        super().__init__(timeout_s, headers)
        self._path = path

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        connection = self._connection[1]
        if connection is None:  # one connection per proxy, as the base class keeps it
            connection = _UnixConnection(self._path, self._timeout_s)
            self._connection = host, connection
        return connection


def _auth_headers(url: str, auth: SupervisorAuth | None) -> list[tuple[str, str]]:
    """The basic-auth header, from credentials read now (sent as a header, never put in a URL or a message)."""
    if auth is None:
        return []
    try:
        password = auth.password()
    except ValueError as exc:
        raise TargetMisconfigured(f"supervisord at {url}: {exc}") from exc
    token = base64.b64encode(f"{auth.username}:{password}".encode()).decode("ascii")
    return [("Authorization", f"Basic {token}")]


@dataclass(frozen=True)
class ProgramState:
    name: str
    state: str
    pid: int

    @property
    def up(self) -> bool:
        return self.state in _UP_STATES


class SupervisorClient:
    """supervisord at ``url`` (``http://127.0.0.1:9001/RPC2`` or ``unix:///PATH/supervisord.sock``), with ``auth``
    if it requires credentials; every call gives up after ``timeout_s``."""

    def __init__(self, url: str, *, auth: SupervisorAuth | None = None, timeout_s: float = 3.0) -> None:
        self._timeout_s = timeout_s
        self._auth = auth
        unix = url.startswith(UNIX_SOCKET_URL)
        self.url = url if unix or url.rstrip("/").endswith("RPC2") else url.rstrip("/") + "/RPC2"

    def _server(self) -> xmlrpc.client.ServerProxy:
        """A proxy with the credentials read now (so a missing password is reported as the call that needed it)."""
        headers = _auth_headers(self.url, self._auth)
        if self.url.startswith(UNIX_SOCKET_URL):
            path = self.url.removeprefix(UNIX_SOCKET_URL)
            transport = _UnixTransport(path, self._timeout_s, headers)
            return xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=transport)
        return xmlrpc.client.ServerProxy(self.url, transport=_TimeoutTransport(self._timeout_s, headers))

    @contextmanager
    def _call(self, what: str) -> Iterator[Any]:
        """One XML-RPC exchange; the connection is closed after it (calls are rare, sockets must not leak)."""
        server = self._server()
        try:
            yield server.supervisor
        except xmlrpc.client.Fault as exc:
            if "BAD_NAME" in exc.faultString:
                raise TargetMisconfigured(
                    f"supervisord at {self.url} has no such program while {what}"
                ) from exc
            raise InjectorError(f"supervisord at {self.url} refused {what}: {exc.faultString}") from exc
        except xmlrpc.client.ProtocolError as exc:
            if exc.errcode == 401:
                raise TargetMisconfigured(
                    f"supervisord at {self.url} refused the credentials while {what} (HTTP 401): declare its "
                    "username and where to read its password in the target's supervisor_auth"
                ) from exc
            raise InjectorError(
                f"supervisord at {self.url} answered HTTP {exc.errcode} while {what}"
            ) from exc
        except PermissionError as exc:
            raise TargetMisconfigured(
                f"no permission to supervisord's socket {self.url} while {what}: it belongs to another user"
            ) from exc
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            raise TargetUnreachable(
                f"supervisord at {self.url} did not answer within {self._timeout_s:g}s while {what}"
            ) from exc
        finally:
            server("close")()

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
