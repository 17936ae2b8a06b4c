"""Where a running embedded stack can be reached: all a harness needs to drive and undo faults on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlchaos.staging.declaration import DECLARATION

# Logical dependency name -> toxiproxy proxy name. The gateway reaches each of these only through its proxy,
# so network faults on the proxy hit the dependency for real.
PROXIES: dict[str, str] = {
    "feature_store": "feature_store",
    "primary_model": "primary_model",
    "cache": "cache",
}

# Supervised programs ("pods") of the embedded stack.
PROGRAMS: tuple[str, ...] = ("redis", "toxiproxy", "primary-model", "gateway")


@dataclass(frozen=True)
class StackEndpoints:
    """A running embedded stack, as :meth:`EmbeddedStack.start` returns it (all URLs are on 127.0.0.1)."""

    gateway_url: str
    primary_url: str
    """The primary model server directly, bypassing toxiproxy (for tests and diagnostics)."""
    toxiproxy_url: str
    """Toxiproxy's API: open to every local user (toxiproxy-server has no authentication)."""
    supervisor_url: str
    """``unix:///WORKDIR/supervisord.sock``: supervisord's XML-RPC, for the stack's owner only."""
    redis_url: str
    """Redis directly, bypassing toxiproxy (it requires ``redis_password``)."""
    workdir: Path
    supervisord_pid: int
    proxies: dict[str, str] = field(default_factory=lambda: dict(PROXIES))
    programs: tuple[str, ...] = PROGRAMS
    redis_password: str = field(default="", repr=False)
    """Generated per start; never printed (``mlchaos staging up`` leaves it out: it is in WORKDIR/stack.json,
    0600). Empty where the endpoints were read back from that printout."""

    def as_external_target(self) -> dict[str, object]:
        """This stack as mlchaos' ``external`` target — where it runs, and the reference declaration of how it reads
        — ready for a target file (``mlchaos.experiments.targets``)."""
        return {
            **DECLARATION,
            "kind": "external",
            "service_url": self.gateway_url,
            "toxiproxy_url": self.toxiproxy_url,
            "supervisor_url": self.supervisor_url,
            "proxies": dict(self.proxies),
            "programs": list(self.programs),
        }
