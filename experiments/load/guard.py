"""Until when the load's requests may start, and where they may go: checks inside both Locust HTTP clients.

mlchaos' own user checks the gate in its task, but a team's locustfile makes its requests in its own tasks, so
the checks sit where every Locust user sends through: ``FastHttpSession`` (FastHttpUser) and ``HttpSession``
(HttpUser, requests-based), patched in this process — the load child's, which runs nothing else. They hold for
mlchaos' own user too.

- **No request starts after the deadline or a stop.** Once the gate is shut a request raises Locust's
  ``RescheduleTask`` instead of being sent: the task ends there as if it had returned, and the user waits, where
  Locust's stop reaches it at once. A task still running at the deadline sends nothing more; requests already in
  flight get ``stop_grace_s`` (then the runner kills the user).
- **Requests go to base_url's host, loopback, or a host the target allows** (:mod:`mlchaos.experiments.hosts`'
  rules: listed in ``allowed_hosts``, and not production-looking unless allowed). Any other (an absolute URL in a
  locustfile) is refused before it is sent: :class:`HostRefused` is raised in the task, the host is counted, and
  the load fails saying which host and why.
- **Redirects are followed within the same origin only** (scheme, host and port): a redirect anywhere else — another
  host, or another port of the same host, which is another service — is not followed: the 3xx is the response,
  recorded as ``redirect to LOCATION, not followed``.

Both clients follow redirects by default (requests and geventhttpclient alike, to any host).
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401 - first: it monkey-patches for gevent, which must precede every other import

# isort: on
import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from locust.clients import HttpSession
from locust.contrib.fasthttp import FastHttpSession, LocustUserAgent
from locust.exception import RescheduleTask

from mlchaos.experiments.errors import LoadFailure
from mlchaos.experiments.hosts import parse_host, refusal

_FAST_HEADERS_POSITION = 5
"""FastHttpSession.request(method, url, name, data, catch_response, stream, headers, ...): after method and url,
``headers`` is the 5th positional argument (nobody passes it so, but then it is theirs as given)."""


class HostRefused(LoadFailure):
    """A request to a host the load may not reach; it was never sent."""


class RedirectNotFollowed(OSError, LoadFailure):
    """Stops geventhttpclient's redirect loop at a redirect to another host.

    An ``OSError`` because that is what Locust's FastHttpSession catches around the request: it then takes
    ``response`` (the 3xx, body read) as the request's response and this as its exception.
    """

    def __init__(self, location: str, response: Any) -> None:
        super().__init__(f"redirect to {location}, not followed")
        self.response = response


@dataclass
class _Policy:
    is_open: Callable[[], bool] = lambda: True
    base_host: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    allow_production: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    refused: Counter[str] = field(default_factory=Counter)
    decisions: dict[str | None, str | None] = field(default_factory=dict)
    """Why each host seen so far is refused (``None``: allowed): decided once per host, not per request."""


_policy = _Policy()
_installed = False


def guard_requests(
    is_open: Callable[[], bool],
    base_url: str,
    *,
    allowed_hosts: tuple[str, ...],
    allow_production: bool,
    headers: dict[str, str],
) -> None:
    """Check every request of this process from now on: ``is_open`` (the gate) before it starts, and its host:
    base_url's, or one :func:`~mlchaos.experiments.hosts.refusal` lets through; ``headers`` are added to each
    one (a request's own headers win)."""
    global _policy, _installed
    _policy = _Policy(
        is_open=is_open,
        base_host=_host(base_url),
        allowed_hosts=allowed_hosts,
        allow_production=allow_production,
        headers=dict(headers),
    )
    if not _installed:
        _install()
        _installed = True


def refused_hosts() -> Counter[str]:
    """How many requests were refused, by host."""
    return _policy.refused


@functools.lru_cache(maxsize=1024)  # checked before every request, nearly always for the same few URLs
def _host(url: str) -> str | None:
    return urlsplit(url).hostname  # lower-cased, IPv6 brackets stripped


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str | None, int | None]:
    """Scheme, host and port (the scheme's default filled in): where a redirect may lead without leaving."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: an origin of its own, never the one we came from
        return scheme, parts.hostname, -1
    return scheme, parts.hostname, port if port is not None else _DEFAULT_PORTS.get(scheme)


def _refusal(host: str | None) -> str | None:
    """Why a request to ``host`` may not be sent (``None``: it may)."""
    if host is not None and host == _policy.base_host:
        return None  # the target's own service, checked when the target was validated
    try:
        parsed = parse_host(host or "")
    except ValueError as exc:
        return str(exc)
    return refusal(parsed, allowed_hosts=_policy.allowed_hosts, allow_production=_policy.allow_production)


def _check(url: str) -> None:
    """Before a request to ``url`` (already absolute) is sent."""
    if not _policy.is_open():
        raise RescheduleTask()  # the task ends here; the user waits and is stopped there
    host = _host(url)
    if host not in _policy.decisions:
        _policy.decisions[host] = _refusal(host)
    why = _policy.decisions[host]
    if why is not None:
        _policy.refused[str(host)] += 1
        raise HostRefused(f"refused a request to {url}: {why}")


def _with_defaults(headers: Any) -> Any:
    """A request's headers with the policy's added, unless the request sets them itself (in any case)."""
    if not _policy.headers:
        return headers
    own = dict(headers or {})
    names = {str(name).lower() for name in own}
    return {**{k: v for k, v in _policy.headers.items() if k.lower() not in names}, **own}


def _install() -> None:
    # The originals, called by the replacements (typed Any: Locust's and requests' signatures are loose).
    fast_request: Any = FastHttpSession.request
    requests_request: Any = HttpSession.request
    urlopen: Any = LocustUserAgent._urlopen
    redirect_target: Any = HttpSession.get_redirect_target

    def guarded_fast_request(self: FastHttpSession, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        _check(self._build_url(url))
        if _policy.headers and len(args) < _FAST_HEADERS_POSITION:
            kwargs["headers"] = _with_defaults(kwargs.get("headers"))
        return fast_request(self, method, url, *args, **kwargs)

    def guarded_requests_request(self: HttpSession, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        _check(self._build_url(url))
        if _policy.headers:  # a keyword-only argument of HttpSession.request
            kwargs["headers"] = _with_defaults(kwargs.get("headers"))
        return requests_request(self, method, url, *args, **kwargs)

    def same_origin_urlopen(self: LocustUserAgent, request: Any) -> Any:
        """One hop of geventhttpclient's redirect loop: a redirect to another origin ends it with this response."""
        response = urlopen(self, request)
        if response.status_code in self.redirect_response_codes:
            location = response.headers.get("location")
            if isinstance(location, str) and location:
                here = request.url_split
                there = here.redirect(location)
                if (there.scheme, there.host, there.port) != (here.scheme, here.host, here.port):
                    _ = response.content  # read now: the connection goes back to the pool after this
                    raise RedirectNotFollowed(location, response)
        return response

    def same_origin_redirect_target(self: HttpSession, response: Any) -> str | None:
        """requests follows the redirect this returns; ``None`` makes the 3xx the response."""
        location: str | None = redirect_target(self, response)
        if location is not None and _origin(urljoin(response.url, location)) != _origin(response.url):
            return None
        return location

    FastHttpSession.request = guarded_fast_request  # type: ignore[method-assign]
    HttpSession.request = guarded_requests_request  # type: ignore[method-assign]
    LocustUserAgent._urlopen = same_origin_urlopen  # type: ignore[method-assign]
    HttpSession.get_redirect_target = same_origin_redirect_target  # type: ignore[method-assign,assignment]
