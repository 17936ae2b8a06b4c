"""The riskd stack as supervisord sees it: each program's command line and the supervisord.conf that runs
them (rendered here: the reference stack's renderer is tied to its own config), plus the last-resort sweep of
programs that outlived their supervisord."""

from __future__ import annotations

import contextlib
import shlex
import sys
from pathlib import Path
from typing import Final

import psutil

from mlchaos.staging import supervisor
from riskd.config import CONFIG_FILE, RiskdConfig

PYTHONPATH: Final = str(Path(__file__).resolve().parents[1])
"""The folder holding the riskd package (tests/), for the programs supervisord starts."""


def _esc(text: str) -> str:
    return text.replace("%", "%%")  # supervisord expands %(name)s in every value


def program_commands(config: RiskdConfig, toxiproxy_server: Path) -> dict[str, list[str]]:
    python, conf, toxiproxy = sys.executable, str(config.path), str(toxiproxy_server)
    toxiproxy_conf = str(config.workdir / supervisor.TOXIPROXY_CONF)
    return {
        "toxiproxy": [
            toxiproxy,
            "-host",
            "127.0.0.1",
            "-port",
            str(config.ports.toxiproxy),
            "-config",
            toxiproxy_conf,
        ],
        "profiles": [python, "-m", "riskd.profiles", "--config", conf],
        "scorer": [python, "-m", "riskd.scorer", "--config", conf],
        "risk-api": [python, "-m", "riskd.api", "--config", conf],
    }


def render_supervisord_conf(config: RiskdConfig, commands: dict[str, list[str]]) -> str:
    logs = config.workdir / supervisor.LOG_DIR
    # toxiproxy logs every connection at its default level; OMP: the models score one row at a time.
    environment = ",".join(
        f'{key}="{_esc(value)}"'
        for key, value in {
            "PYTHONPATH": PYTHONPATH,
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": "1",
            "PROMETHEUS_DISABLE_CREATED_SERIES": "true",
            "LOG_LEVEL": "warn",
        }.items()
    )
    text = f"""[supervisord]
nodaemon=true
silent=true
identifier=riskd
logfile={_esc(str(logs / "supervisord.log"))}
logfile_maxbytes=0
pidfile={_esc(str(config.workdir / "supervisord.pid"))}
childlogdir={_esc(str(logs))}

[inet_http_server]
port=127.0.0.1:{config.ports.supervisor}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
"""
    for name, argv in commands.items():
        # autorestart with a short startsecs: a SIGKILLed program is back within its own start-up time; many
        # retries, so a kill during a restart never ends in FATAL.
        text += f"""
[program:{name}]
command={_esc(shlex.join(argv))}
directory={_esc(str(config.workdir))}
autostart=true
autorestart=true
startsecs=1
startretries=100
stopsignal=TERM
stopwaitsecs=3
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile={_esc(str(logs / f"{name}.log"))}
stdout_logfile_maxbytes=10MB
stdout_logfile_backups=0
environment={environment}
"""
    return text


def sweep(workdir: Path) -> None:
    """Our Python programs name WORKDIR/riskd.json; supervisor.shutdown() does not know that file, and would
    miss them if supervisord itself had died first."""
    marker = str(workdir / CONFIG_FILE)
    found = [p for p in psutil.process_iter(["cmdline"]) if marker in (p.info.get("cmdline") or [])]
    for send in (psutil.Process.terminate, psutil.Process.kill):
        for process in found:
            with contextlib.suppress(psutil.Error):
                send(process)
        _, found = psutil.wait_procs(found, timeout=3.0)
