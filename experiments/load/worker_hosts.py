"""Where a load worker agrees to send requests: its own configuration, not the master's word.

A worker runs the spec its master sends, and the spec says where requests go (the service URL, and the hosts a
team's users may also reach). A worker therefore checks every one of those hosts against hosts it was itself
configured with: loopback always; others only when given to ``mlchaos load-worker --allow-host`` (or
``MLCHAOS_LOAD_ALLOW_HOSTS``; the chart passes its target's service host). A spec naming any other host is
refused before any request is sent. The master's own local workers are configured with the hosts of the spec
the run validated.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from mlchaos.experiments.hosts import allowed_host_entry, parse_host, url_host
from mlchaos.experiments.load.spec import LoadSpec

ALLOW_HOSTS_ENV = "MLCHAOS_LOAD_ALLOW_HOSTS"


def parsed(entries: Iterable[str]) -> tuple[str, ...]:
    """``--allow-host`` values (each may be a comma-separated list), normalised; ValueError naming a bad one."""
    hosts = []
    for entry in entries:
        for text in entry.split(","):
            if text.strip():
                hosts.append(allowed_host_entry(text.strip()))
    return tuple(hosts)


def from_environment(environ: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    return parsed([environ.get(ALLOW_HOSTS_ENV, "")])


def spec_hosts(spec: LoadSpec) -> tuple[str, ...]:
    """Every host the spec's requests may go to (what a local worker is configured with)."""
    return (url_host(spec.base_url).name, *spec.allowed_hosts)


def refusal(spec: LoadSpec, allowed: tuple[str, ...]) -> str | None:
    """Why this worker may not run ``spec`` (a host it was not configured for), or None."""
    try:
        hosts = [url_host(spec.base_url), *(parse_host(host) for host in spec.allowed_hosts)]
    except ValueError as exc:
        return f"the load spec names a host this worker cannot check: {exc}"
    own = {parse_host(host) for host in allowed}
    for host in hosts:
        if not host.loopback and host not in own:
            shown = ", ".join(allowed) or "none: loopback only"
            return (
                f"the load spec sends requests to '{host}', which this worker is not configured to reach "
                f"(its allowed hosts: {shown}; add it with `mlchaos load-worker --allow-host {host}` or "
                f"{ALLOW_HOSTS_ENV})"
            )
    return None
