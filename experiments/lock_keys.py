"""What a run locks, canonically: one endpoint under any of its names gives the same lock keys.

A URL is reduced to the socket it reaches — its host's addresses and its port (the scheme's default when it names
none); its scheme and path do not matter. Each address is a key of its own, so two names whose addresses overlap
share a key (``localhost`` resolves to 127.0.0.1 and ::1, ``127.0.0.1`` is only the first). Every address of this
machine — loopback (127.0.0.0/8, ::1), the unspecified 0.0.0.0 and ::, and the addresses of its own interfaces — is
one address, ``local``: a server listening on 0.0.0.0 answers on each of them, so they are all aliases of it.

Names are resolved with ``getaddrinfo`` (every address, sorted); names are compared in lower case without a trailing
dot. A name that does not resolve in :data:`RESOLVE_TIMEOUT_S` is keyed by the name itself: it reaches nothing now,
and the run's preflight says so.

A Kubernetes target is keyed as well by the cluster (its API server, canonical as above), the namespace and each
workload a run acts on (the namespace alone when it names none).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import socket
import threading
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

import psutil

from mlchaos.experiments.hosts import Address, parse_host

RESOLVE_TIMEOUT_S = 5.0
DEFAULT_PORTS = {"http": 80, "https": 443}
LOCAL = "local"
"""The one address every address of this machine is, as a lock key."""


@dataclass(frozen=True)
class ClusterScope:
    """What a Kubernetes run acts on: a namespace (one workload of it, when given) of the cluster at ``server``."""

    server: str
    namespace: str
    workload: str | None = None
    """``deployment/NAME`` or ``statefulset/NAME``."""

    def __str__(self) -> str:
        what = (
            f"{self.workload} in namespace {self.namespace}"
            if self.workload
            else f"namespace {self.namespace}"
        )
        return f"{what} of the cluster at {self.server}"


UNIX_SCHEME = "unix://"
Endpoint = str | ClusterScope
"""A URL a run acts on (the service, toxiproxy, supervisord), or a part of a cluster."""


def lock_keys(endpoint: Endpoint) -> tuple[str, ...]:
    """The canonical keys of an endpoint (file-name safe, sorted): two endpoints that share a key are one."""
    if isinstance(endpoint, ClusterScope):
        scope = f"{endpoint.namespace}_{(endpoint.workload or 'namespace').replace('/', '-')}"
        return tuple(_bounded(f"k8s_{socket}_{scope}") for socket in _sockets(endpoint.server))
    return tuple(_bounded(socket) for socket in _sockets(endpoint))


def _sockets(url: str) -> tuple[str, ...]:
    """``ADDRESS_PORT`` for every address the URL's host has; a unix socket by its resolved path."""
    if url.startswith(UNIX_SCHEME):
        # One socket reached through a symlink or a `..` is the same socket: the key is the path it resolves to.
        resolved = os.path.realpath(url.removeprefix(UNIX_SCHEME))
        return (f"unix-{_safe(resolved)}-{hashlib.sha256(resolved.encode()).hexdigest()[:16]}",)
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
        host = (parts.hostname or "").removesuffix(".")
    except ValueError:
        port, host = None, ""
    if not host or port is None:  # not a URL mlchaos could contact; locked as written, so it still excludes
        return (f"text-{_safe(url)}",)
    return tuple(f"{address}_{port}" for address in _addresses(host, port))


def _addresses(host: str, port: int) -> tuple[str, ...]:
    try:
        parsed = parse_host(host)
    except ValueError:  # not a host name: it resolves to nothing, keep it as written
        return (f"name-{_safe(host)}",)
    if parsed.address is not None:
        return (_address_key(parsed.address),)
    if parsed.loopback:  # `localhost` is this machine whatever /etc/hosts says
        return (LOCAL,)
    resolved = _resolve(parsed.name, port)
    if not resolved:
        return (f"name-{_safe(parsed.name)}",)
    return tuple(sorted({_address_key(address) for address in resolved}))


def _address_key(address: Address) -> str:
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is 127.0.0.1
    if mapped is not None:
        address = mapped
    if address.is_loopback or address.is_unspecified or address in _local_addresses():
        return LOCAL
    if isinstance(address, ipaddress.IPv6Address):  # exploded: one spelling, and no ':' in a file name
        return address.exploded.replace(":", "-")
    return str(address)


def _resolve(name: str, port: int) -> list[Address]:
    """Every address ``name`` resolves to, or none (unknown, or no answer within the timeout)."""
    found: list[Address] = []

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return
        for *_, sockaddr in infos:
            try:
                found.append(ipaddress.ip_address(str(sockaddr[0]).partition("%")[0]))
            except ValueError:
                continue

    # getaddrinfo has no timeout of its own; a daemon thread never holds the process up when the resolver hangs
    thread = threading.Thread(target=lookup, name=f"resolve {name}", daemon=True)
    thread.start()
    thread.join(RESOLVE_TIMEOUT_S)
    return [] if thread.is_alive() else found


@cache
def _local_addresses() -> frozenset[Address]:
    addresses: set[Address] = set()
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family in (socket.AF_INET, socket.AF_INET6):
                try:
                    addresses.add(ipaddress.ip_address(entry.address.partition("%")[0]))
                except ValueError:
                    continue
    return frozenset(addresses)


def _safe(text: str) -> str:
    return re.sub(r"[^a-z0-9.-]+", "-", text.lower()).strip("-") or "-"


def _bounded(key: str) -> str:
    """A file name of at most 200 characters: a longer key keeps its start and a digest of the whole."""
    if len(key) <= 200:
        return key
    return f"{key[:150]}-{hashlib.sha256(key.encode()).hexdigest()[:32]}"
