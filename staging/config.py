"""The wiring of one embedded stack: which program listens where, and the options it runs with.

:class:`~mlchaos.staging.stack.EmbeddedStack` writes it as ``WORKDIR/stack.json``; the primary model server
and the gateway read it (``--config PATH``), so one file is the truth for every process of the stack.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from mlchaos.staging.endpoints import PROXIES
from mlchaos.staging.options import StackOptions

HOST: Final = "127.0.0.1"
"""Every program of the stack listens on loopback only."""
CONFIG_FILE: Final = "stack.json"
REDIS_PASSWORD_ENV: Final = "MLCHAOS_REDIS_PASSWORD"
SUPERVISOR_SOCKET: Final = "supervisord.sock"
"""supervisord's XML-RPC: a unix socket in the workdir (mode 0700), so only the stack's owner can reach it."""
MAX_UNIX_SOCKET_PATH: Final = 107
"""The longest path a unix socket can bind to (``sun_path`` holds 108 bytes, with the terminating NUL)."""


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` readable by its owner only (0600), never through a symbolic link: the stack's
    files hold its redis password and describe its control socket."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        os.fchmod(file.fileno(), 0o600)  # a file left by an earlier stack in a chosen workdir keeps its mode
        file.write(text)
    return path


class StackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    options: StackOptions
    workdir: Path
    redis_port: int
    redis_password: str = Field(
        "",
        repr=False,
        description="What redis requires (AUTH); empty: none. The embedded stack generates one per start, kept "
        "only in this file and redis' own config, both 0600 in the 0700 workdir — never in a command line. "
        f"${REDIS_PASSWORD_ENV}, when set, takes its place (the ml-staging chart passes its Secret so).",
    )
    toxiproxy_port: int
    primary_port: int
    gateway_port: int
    proxy_ports: dict[str, int] = Field(
        description="Dependency name (a key of PROXIES) -> its proxy's listen port."
    )

    @property
    def path(self) -> Path:
        return self.workdir / CONFIG_FILE

    @property
    def supervisor_socket(self) -> Path:
        return self.workdir / SUPERVISOR_SOCKET

    @property
    def supervisor_url(self) -> str:
        """``unix:///WORKDIR/supervisord.sock``: what XML-RPC clients (the stack's, mlchaos' injectors) connect to."""
        return f"unix://{self.supervisor_socket}"

    def url(self, port: int, scheme: str = "http") -> str:
        return f"{scheme}://{HOST}:{port}"

    def proxy_port(self, dependency: str) -> int:
        """Where the gateway reaches ``dependency``: through its toxiproxy proxy, never directly."""
        return self.proxy_ports[dependency]

    def toxiproxy_proxies(self) -> list[dict[str, object]]:
        """The proxies toxiproxy-server creates at (every) start, in its ``-config`` file format."""
        upstream = {
            "feature_store": self.redis_port,
            "cache": self.redis_port,
            "primary_model": self.primary_port,
        }
        return [
            {
                "name": PROXIES[dependency],
                "listen": f"{HOST}:{self.proxy_ports[dependency]}",
                "upstream": f"{HOST}:{upstream[dependency]}",
                "enabled": True,
            }
            for dependency in PROXIES
        ]

    def write(self) -> Path:
        return write_private(self.path, self.model_dump_json(indent=2))

    @classmethod
    def read(cls, path: Path) -> StackConfig:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))

    @classmethod
    def from_argv(cls, argv: list[str] | None, prog: str) -> StackConfig:
        """Parse a program's command line (``--config PATH``), as supervisord starts it."""
        parser = argparse.ArgumentParser(prog=prog)
        parser.add_argument("--config", type=Path, required=True, help=f"the stack's {CONFIG_FILE}")
        config = cls.read(parser.parse_args(argv).config)
        if password := os.environ.get(REDIS_PASSWORD_ENV):
            return config.model_copy(update={"redis_password": password})
        return config
