"""Where mlchaos may send traffic: loopback, the hosts a target allows — and nothing that looks like production
unless told so.

Every URL mlchaos contacts for an external or Kubernetes target (the service, toxiproxy, supervisord, a Prometheus
server) is checked when the target is validated, so a wrong host is refused at the line that names it, before
anything is contacted:

- ``http`` or ``https``, with a host and without ``user:password@`` (credentials go in ``headers``, which are
  redacted everywhere; a URL is printed in plans, journals and reports);
- loopback (``127.0.0.0/8``, ``::1``, ``localhost``) is always allowed. Addresses are compared as addresses,
  never as text: ``127.attacker.example`` is a host name like any other;
- any other host must be listed in the target's ``allowed_hosts`` (names compared case-insensitively and without
  a trailing dot). In a Kubernetes target a Service's cluster name ``NAME.NAMESPACE.svc[.cluster.local]`` is
  allowed when ``NAMESPACE`` is in its ``allowed_namespaces`` — and only then, listed or not;
- a host that looks like production (``prod``, ``production``, ``prd`` or ``live`` as a word of it: the rule of
  :mod:`mlchaos.experiments.kubernetes.guard` for contexts) is refused unless ``allow_production`` is set in the
  target or ``--allow-production`` is passed. Listing such a host in ``allowed_hosts`` is fine; using it is not.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from mlchaos.experiments.kubernetes.guard import production_words

SCHEMES = ("http", "https")
LOCALHOST = "localhost"
_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
# A last label of digits (or hex) is an address in a form resolvers read loosely (`127.1`, `0x7f.1`): no host name.
_NUMERIC = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Host:
    """A host as mlchaos compares it: a name in lower case without a trailing dot, or an address."""

    name: str
    address: Address | None = None

    @property
    def loopback(self) -> bool:
        if self.address is None:
            return self.name == LOCALHOST
        mapped = getattr(self.address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is 127.0.0.1
        return self.address.is_loopback or (mapped is not None and mapped.is_loopback)

    def __str__(self) -> str:
        return self.name


def parse_host(text: str) -> Host:
    """A host name or an IP address (IPv6 without brackets), normalised; ``ValueError`` saying what is wrong."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        return Host(str(address), address)
    if not text.isascii():
        raise ValueError(f"'{text}' is not an ASCII host name; write it in its xn-- (punycode) form")
    name = text.lower().removesuffix(".")
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(
            f"'{text}' is neither a host name (letters, digits and hyphens, dot-separated) nor an IP address"
        )
    if _NUMERIC.match(labels[-1]):
        raise ValueError(
            f"'{text}' is neither a host name nor an IP address in its usual form (e.g. 127.0.0.1)"
        )
    return Host(name)


def allowed_host_entry(text: str) -> str:
    """An ``allowed_hosts`` entry, normalised; a URL or ``host:port`` is refused saying what to write instead."""
    if "://" in text or "/" in text:
        host = urlsplit(text if "://" in text else f"//{text}").hostname
        raise ValueError(f"expected a host name, not a URL: write '{host or text}'")
    if text.count(":") == 1:  # one colon: host:port (an IPv6 address has several)
        raise ValueError(f"expected a host name without a port: write '{text.split(':')[0]}'")
    return parse_host(text).name


def url_host(url: str) -> Host:
    """The host of a URL mlchaos will contact; ``ValueError`` when the URL is not one it may use."""
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError(f"{url!r} contains spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises on a port that is not a number in 0..65535
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in SCHEMES:
        raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"{_without_credentials(url)} carries a user or password (user:password@): put credentials in "
            "`headers`, which are redacted everywhere, not in a URL, which is shown"
        )
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host")
    try:
        return parse_host(parts.hostname)
    except ValueError as exc:
        raise ValueError(f"{url!r}: the host {exc}") from None


def _without_credentials(url: str) -> str:
    return re.sub(r"//[^/@]*@", "//…@", url, count=1)


def cluster_service_namespace(host: Host) -> str | None:
    """The namespace of a Service's cluster DNS name (``NAME.NAMESPACE.svc[.cluster.local]``), else ``None``."""
    labels = host.name.split(".")
    if host.address is None and labels[2:] in (["svc"], ["svc", "cluster", "local"]):
        return labels[1]
    return None


def refusal(
    host: Host,
    *,
    allowed_hosts: Iterable[str],
    allowed_namespaces: Iterable[str] | None = None,
    allow_production: bool,
) -> str | None:
    """Why mlchaos may not contact ``host``, or ``None`` when it may. ``allowed_namespaces`` is given for a
    Kubernetes target, whose Services in those namespaces may be contacted by their cluster names."""
    if host.loopback:
        return None
    listed = tuple(allowed_hosts)
    namespace = None if allowed_namespaces is None else cluster_service_namespace(host)
    if namespace is not None:
        namespaces = tuple(allowed_namespaces or ())
        if namespace not in namespaces:
            return (
                f"Service '{host}' is in namespace '{namespace}', which is not in allowed_namespaces "
                f"({', '.join(namespaces)}); add it there to allow traffic to it"
            )
    elif not any(_same(host, entry) for entry in listed):
        shown = ", ".join(listed) or "empty: only loopback"
        return f"host '{host}' is not in allowed_hosts ({shown}); add it there to allow traffic to it"
    words = production_words(host.name)
    if words and not allow_production:
        return (
            f"host '{host}' looks like production ('{words[0]}' is a word of it); mlchaos refuses it unless the "
            "target sets `allow_production: true` or --allow-production is passed"
        )
    return None


def _same(host: Host, entry: str) -> bool:
    try:
        return parse_host(entry) == host
    except ValueError:  # entries are validated where they are declared; an invalid one matches nothing
        return False
