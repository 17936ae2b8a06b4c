"""One riskd stack's wiring and behaviour, written by the launcher as ``WORKDIR/riskd.json`` and read by every
Python program of the stack (``--config PATH``), so one file is the truth for all of them."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

HOST: Final = "127.0.0.1"
CONFIG_FILE: Final = "riskd.json"

DEFECTS: Final = (
    "broken_fallback",
    "breaker_never_closes",
    "breaker_never_opens",
    "no_timeout",
    "nan_500",
    "overconfident_ood",
    "degraded_labelled_gold",
    "slow_recovery",
)
"""Deliberately planted bugs, each one a thing a chaos harness ought to catch (see README of the package)."""

PROXIES: Final = {"profiles": "profiles-db", "scorer": "scorer-rpc"}
"""Dependency name -> toxiproxy proxy name. risk-api reaches each dependency only through its proxy."""
PROGRAMS: Final = ("profiles", "scorer", "risk-api", "toxiproxy")
TIERS: Final = ("gold", "silver", "bronze", "default")
"""Best to worst; the tier is only ever told in the ``X-Served-By`` response header."""

SLOW_RECOVERY_S: Final = 30.0
NO_TIMEOUT_S: Final = 30.0


def check_flags(flags: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    unknown = sorted(set(flags) - set(DEFECTS))
    if unknown:
        raise ValueError(f"unknown defect flag(s) {unknown}; known: {', '.join(DEFECTS)}")
    return tuple(sorted(set(flags)))


@dataclass(frozen=True)
class Ports:
    supervisor: int
    toxiproxy: int
    profiles: int
    scorer: int
    api: int
    profiles_proxy: int
    scorer_proxy: int


@dataclass(frozen=True)
class RiskdConfig:
    workdir: Path
    ports: Ports
    flags: tuple[str, ...] = ()
    max_in_flight: int = 8
    call_timeout_s: float = 0.3
    failure_threshold: int = 3
    recovery_s: float = 2.0
    cold_start_s: float = 3.0
    cold_delay_s: float = 0.4
    deep_budget_s: float = 0.5
    scorer_restart_s: float = 3.0
    """A restarted scorer takes this long before it serves again (a pod being rescheduled and loading its model):
    the first start does not wait."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "flags", check_flags(self.flags))
        if self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {self.max_in_flight}")

    def has(self, flag: str) -> bool:
        assert flag in DEFECTS, flag
        return flag in self.flags

    @property
    def path(self) -> Path:
        return self.workdir / CONFIG_FILE

    @property
    def effective_recovery_s(self) -> float:
        return SLOW_RECOVERY_S if self.has("slow_recovery") else self.recovery_s

    def timeout_s(self, dependency: str) -> float:
        return NO_TIMEOUT_S if dependency == "profiles" and self.has("no_timeout") else self.call_timeout_s

    @staticmethod
    def url(port: int) -> str:
        return f"http://{HOST}:{port}"

    def toxiproxy_proxies(self) -> list[dict[str, object]]:
        """toxiproxy-server's ``-config`` file: the proxies it creates at every start (a restart too)."""
        upstream = {"profiles": self.ports.profiles, "scorer": self.ports.scorer}
        listen = {"profiles": self.ports.profiles_proxy, "scorer": self.ports.scorer_proxy}
        return [
            {
                "name": proxy,
                "listen": f"{HOST}:{listen[dependency]}",
                "upstream": f"{HOST}:{upstream[dependency]}",
                "enabled": True,
            }
            for dependency, proxy in PROXIES.items()
        ]

    def write(self) -> Path:
        raw = asdict(self)
        raw["workdir"] = str(self.workdir)
        self.path.write_text(json.dumps(raw, indent=2), encoding="utf-8")
        return self.path

    @classmethod
    def read(cls, path: Path) -> RiskdConfig:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            **{
                **raw,
                "workdir": Path(raw["workdir"]),
                "ports": Ports(**raw["ports"]),
                "flags": tuple(raw["flags"]),
            }
        )

    @classmethod
    def from_argv(cls, argv: list[str] | None, prog: str) -> RiskdConfig:
        parser = argparse.ArgumentParser(prog=prog)
        parser.add_argument("--config", type=Path, required=True, help=f"the stack's {CONFIG_FILE}")
        return cls.read(parser.parse_args(argv).config)
