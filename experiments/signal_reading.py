"""Fetching what the prober reads: an HTTP GET bounded by a total deadline, the series of a metric in Prometheus
text exposition, and the series of a PromQL instant query from a Prometheus server's HTTP API.

Every failure — connection refused, the deadline, a redirect, an unparsable answer, Prometheus refusing the
query — is raised as :class:`SignalReadError` with a message fit for a probe sample: the library errors
(requests, urllib3, prometheus_client's parser, JSON) are mapped here and nowhere else.

**The deadline is total.** requests' ``timeout`` bounds each socket read, not the request: a server that dribbles
its answer keeps a client waiting for as long as it likes. Here the connection and the headers share one budget
(urllib3's ``Timeout(total=…)``), the body is read in pieces as they arrive, each read waiting at most what is
left of the budget, and the time is checked after the headers and each piece; and whatever the request is doing
at the deadline — connecting, sending, reading header lines dribbled byte by byte — its socket is shut down then
(:mod:`mlchaos.experiments.http_bounds`), so it is abandoned within its deadline. **The answer is capped**: read
in pieces, and given up as soon as it passes ``max_bytes``, so memory stays bounded whatever the server sends.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3
from prometheus_client.parser import text_string_to_metric_families

from mlchaos.experiments.errors import TargetUnusable
from mlchaos.experiments.http_bounds import bounded, deadline_message, too_large_message, watched
from mlchaos.experiments.signal_mapping import DeclaredSignal, Reading, Series
from mlchaos.experiments.signals import Source

MAX_BODY_BYTES = 32 * 1024 * 1024
"""The default cap: an answer larger than this is refused (a big service's /metrics is a few MB; this bounds the
prober's memory). Prediction answers get the much smaller ``load.max_response_bytes``."""
_PIECE = 64 * 1024


class SignalReadError(TargetUnusable):
    """A health endpoint, ``/metrics`` or a PromQL query could not be read; the message says why."""


class NotFollowed(SignalReadError):
    """The answer was a redirect, which is never followed (it could lead to a host the target does not allow)."""


@dataclass(frozen=True)
class Answer:
    status: int
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)
    """The response headers (looked up case-insensitively)."""


def get(
    session: requests.Session,
    url: str,
    *,
    deadline_s: float,
    params: Mapping[str, str] | None = None,
    max_bytes: int = MAX_BODY_BYTES,
) -> Answer:
    """``GET url`` within ``deadline_s`` in total, its answer at most ``max_bytes``; redirects are not followed
    (a redirect is :class:`NotFollowed`: the prober reads the service it was pointed at, never another host).
    ``session`` gets :class:`~mlchaos.experiments.http_bounds.BoundedAdapter` mounted."""
    return _send(session, "GET", url, deadline_s=deadline_s, params=params, max_bytes=max_bytes)


def post(
    session: requests.Session, url: str, body: bytes, *, deadline_s: float, max_bytes: int = MAX_BODY_BYTES
) -> Answer:
    """``POST url`` with a JSON ``body``, bounded and never redirected like :func:`get` (``mlchaos target
    check``, ``mlchaos init`` and the adversarial attack send their requests with it)."""
    headers = {"Content-Type": "application/json"}
    return _send(session, "POST", url, deadline_s=deadline_s, data=body, headers=headers, max_bytes=max_bytes)


def _send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    deadline_s: float,
    params: Mapping[str, str] | None = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    max_bytes: int,
) -> Answer:
    started = time.monotonic()
    # One budget for connecting and the headers. requests hands a urllib3 Timeout to urllib3 unchanged
    # (HTTPAdapter.send); only its type stubs think a timeout is a number.
    budget: Any = urllib3.Timeout(total=deadline_s)
    with watched(deadline_s) as watch:
        try:
            with bounded(session).request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                timeout=budget,
                stream=True,
                allow_redirects=False,
            ) as response:
                if response.is_redirect:
                    raise NotFollowed(f"redirect to {response.headers.get('Location')}, not followed")
                body = _body(response, started + deadline_s, deadline_s, max_bytes)
                if watch.expired:  # the shut-down socket ended the body early: it is not all there
                    raise SignalReadError(f"{deadline_message(deadline_s)} ({len(body)} bytes read)")
                # UTF-8 whatever the header says: the exposition format and JSON both mandate it (requests would
                # default a text/plain without charset to ISO-8859-1).
                return Answer(response.status_code, body.decode("utf-8", errors="replace"), response.headers)
        except requests.Timeout as exc:
            raise SignalReadError(f"{type(exc).__name__}: {deadline_message(deadline_s)}") from exc
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            if watch.expired:  # the socket was shut down at the deadline: that is why it failed
                raise SignalReadError(deadline_message(deadline_s)) from exc
            raise SignalReadError(type(exc).__name__) from exc


def _body(response: requests.Response, deadline: float, deadline_s: float, max_bytes: int) -> bytes:
    raw = response.raw
    # The socket of this very request: each read may then wait only for what is left of the budget. (urllib3 sets
    # the socket's timeout afresh for the next request on this connection.)
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    pieces: list[bytes] = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SignalReadError(f"{deadline_message(deadline_s)} ({size} bytes read)")
        if sock is not None:
            sock.settimeout(left)
        try:
            piece = raw.read1(_PIECE, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise SignalReadError(f"{deadline_message(deadline_s)} ({size} bytes read)") from exc
        if not piece:
            return b"".join(pieces)
        size += len(piece)
        if size > max_bytes:
            raise SignalReadError(too_large_message(max_bytes))
        pieces.append(piece)


class Exposition:
    """The samples of one Prometheus text exposition (prometheus_client's parser), by sample name."""

    def __init__(self, text: str) -> None:
        self._samples: dict[str, list[Series]] = {}
        self._families: set[str] = set()
        try:
            for family in text_string_to_metric_families(text):
                self._families.add(family.name)
                for sample in family.samples:
                    series = Series(dict(sample.labels), float(sample.value))
                    self._samples.setdefault(sample.name, []).append(series)
        except Exception as exc:  # the parser raises ValueError mostly, but not only, on malformed text
            raise SignalReadError(f"unparsable metrics: {exc}") from exc

    def select(self, source: Source) -> list[Series]:
        """The series of ``source.metric`` that carry all of ``source.labels``.

        A counter is found under its name with or without ``_total`` (the parser strips it from family names, and
        teams write either). A metric that is declared (``# TYPE``) but has no series yet gives none; a metric
        the exposition does not mention at all is an error: most likely a misspelt name.
        """
        name = str(source.metric)
        base = name.removesuffix("_total")
        found = self._samples.get(name) or self._samples.get(f"{base}_total", [])
        if not found and not ({name, base} & self._families):
            raise SignalReadError(f"no metric {name!r} in the service's metrics (health.metrics)")
        wanted = source.labels.items()
        return [one for one in found if wanted <= one.labels.items()]


def from_exposition(signals: Sequence[DeclaredSignal], text: str) -> list[Reading]:
    """The readings of ``signals`` (given as ``metric``) from one exposition text; a signal that cannot be read
    is a failed reading of its own. Raises :class:`SignalReadError` only when the text is unparsable."""
    exposition = Exposition(text)
    readings: list[Reading] = []
    for signal in signals:
        try:
            readings += signal.read(exposition.select(signal.source))
        except SignalReadError as exc:
            readings.append(signal.failed(str(exc)))
    return readings


def from_prometheus(
    signal: DeclaredSignal, session: requests.Session, prometheus_url: str, *, deadline_s: float
) -> list[Reading]:
    """The readings of ``signal`` (given as ``query``), or one failed reading saying why Prometheus could not
    give its series."""
    try:
        series = query(session, prometheus_url, str(signal.source.query), deadline_s=deadline_s)
    except SignalReadError as exc:
        return [signal.failed(f"Prometheus {prometheus_url}: {exc}")]
    return signal.read(series)


def query(session: requests.Session, prometheus_url: str, promql: str, *, deadline_s: float) -> list[Series]:
    """The series an instant PromQL query returns now (``GET /api/v1/query``); a scalar is one series without
    labels. Prometheus is asked to give up at the deadline too."""
    answer = get(
        session,
        prometheus_url.rstrip("/") + "/api/v1/query",
        deadline_s=deadline_s,
        params={"query": promql, "timeout": f"{max(1, round(deadline_s * 1000))}ms"},  # integers only
    )
    try:
        document = json.loads(answer.text)
    except ValueError:
        raise SignalReadError(f"Prometheus answered HTTP {answer.status} without JSON") from None
    if not isinstance(document, dict) or document.get("status") != "success":
        kind = document.get("errorType", "error") if isinstance(document, dict) else "error"
        error = document.get("error", "") if isinstance(document, dict) else ""
        raise SignalReadError(f"Prometheus refused the query (HTTP {answer.status}, {kind}): {error}")
    return _results(document.get("data"))


def _results(data: Any) -> list[Series]:
    try:
        kind, result = data["resultType"], data["result"]
        if kind == "scalar":
            return [Series({}, float(result[1]))]
        if kind == "vector":
            return [
                Series(
                    {k: str(v) for k, v in one["metric"].items() if k != "__name__"}, float(one["value"][1])
                )
                for one in result
            ]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise SignalReadError(f"Prometheus' answer is not a query result: {exc!r}") from exc
    raise SignalReadError(
        f"the query returns a {kind}, not an instant vector or scalar (a range selector like [5m] needs a "
        "function around it, e.g. rate(…[5m]))"
    )
