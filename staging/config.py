"""The wiring of one embedded stack: which program listens where, and the options it runs with.

:class:`~mlchaos.staging.stack.EmbeddedStack` writes it as ``WORKDIR/stack.json``; the primary model server
and the gateway read it (``--config PATH``), so one file is the truth for every process of the stack.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from mlchaos.staging.endpoints import PROXIES
from mlchaos.staging.options import StackOptions

HOST: Final = "127.0.0.1"
"""Every program of the stack listens on loopback only."""
CONFIG_FILE: Final = "stack.json"


class StackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    options: StackOptions
    workdir: Path
    supervisor_port: int
    redis_port: int
    toxiproxy_port: int
    primary_port: int
    gateway_port: int
    proxy_ports: dict[str, int] = Field(
        description="Dependency name (a key of PROXIES) -> its proxy's listen port."
    )

    @property
    def path(self) -> Path:
        return self.workdir / CONFIG_FILE

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
        self.path.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        return self.path

    @classmethod
    def read(cls, path: Path) -> StackConfig:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))

    @classmethod
    def from_argv(cls, argv: list[str] | None, prog: str) -> StackConfig:
        """Parse a program's command line (``--config PATH``), as supervisord starts it."""
        parser = argparse.ArgumentParser(prog=prog)
        parser.add_argument("--config", type=Path, required=True, help=f"the stack's {CONFIG_FILE}")
        return cls.read(parser.parse_args(argv).config)
