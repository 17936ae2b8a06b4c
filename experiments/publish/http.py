"""The one way results leave mlchaos over HTTP: a bounded request whose failure is described without its URL.

A webhook's URL is its credential (Slack's secret is in the path), and request libraries quote the URL in their
errors. So a failure is described here from what went wrong — refused, timed out, an HTTP status — naming only the
origin (``https://hooks.example.com``), never the path or query. ``HTTPS_PROXY``/``NO_PROXY`` are honoured, as
by any HTTP client: a cluster's egress often goes through one. Every request has a total deadline
(:mod:`mlchaos.experiments.http_bounds`), and a redirect is followed only within the same origin: a webhook that
answers "go elsewhere" must not carry the results to a host nobody configured.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from mlchaos.experiments.errors import MlchaosError
from mlchaos.experiments.http_bounds import bounded, watched

MAX_REDIRECTS = 3
MAX_ANSWER_BYTES = 64 * 1024
"""What is read of an answer: its status is all that counts; the rest is drained so the connection can close."""


class SendFailed(MlchaosError):
    """A request that failed; the message names the origin only. Callers record it and go on: publishing never
    changes a run's result (so its exit code is never used)."""


@dataclass(frozen=True)
class Sent:
    status: int


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, without user information, path or query: safe to print."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def send(method: str, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> Sent:
    """Send ``body``; the answer's status if it is below 400, :class:`SendFailed` otherwise or on any error."""
    where = origin(url)
    # requests passes a urllib3 Timeout through; the watch makes it total (http_bounds).
    budget: Any = urllib3.Timeout(total=timeout_s)
    with requests.Session() as session, watched(timeout_s) as watch:
        bounded(session)
        try:
            status = _follow(session, method, url, body, headers, budget)
        except SendFailed:
            raise
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            if watch.expired or isinstance(exc, requests.exceptions.Timeout):
                raise SendFailed(f"{where}: no complete answer within {timeout_s:g}s") from None
            if isinstance(exc, requests.exceptions.ConnectionError):
                raise SendFailed(f"{where}: could not connect ({_reason(exc)})") from None
            raise SendFailed(f"{where}: {type(exc).__name__}") from None
        if watch.expired:
            raise SendFailed(f"{where}: no complete answer within {timeout_s:g}s")
    return Sent(status)


def _follow(
    session: requests.Session, method: str, url: str, body: bytes, headers: Mapping[str, str], budget: Any
) -> int:
    where = origin(url)
    for _ in range(MAX_REDIRECTS + 1):
        answer = session.request(
            method, url, data=body, headers=dict(headers), timeout=budget, allow_redirects=False, stream=True
        )
        with answer:
            _drain(answer)
        if not answer.is_redirect:
            if answer.status_code >= 400:
                raise SendFailed(f"{where} answered HTTP {answer.status_code} {answer.reason or ''}".rstrip())
            return answer.status_code
        target = urljoin(url, answer.headers.get("location", ""))
        if origin(target) != where:
            raise SendFailed(f"{where} redirected to another origin ({origin(target)}): not followed")
        url = target
    raise SendFailed(f"{where}: more than {MAX_REDIRECTS} redirects")


def _drain(answer: requests.Response) -> None:
    read = 0
    for chunk in answer.iter_content(8192):
        read += len(chunk)
        if read >= MAX_ANSWER_BYTES:
            break


def _reason(exc: BaseException) -> str:
    """The socket-level reason inside a requests/urllib3 connection error (never its text, which has the URL)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return "host name not found"
        if isinstance(current, OSError) and current.strerror:
            return current.strerror.lower()
        pending += [current.__cause__, current.__context__, getattr(current, "reason", None)]
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
    return "refused, unreachable or reset"
