"""``mlchaos init URL``: what a service publishes, found by looking — its OpenAPI spec, health endpoints,
``/metrics`` and one answer — for :mod:`~mlchaos.experiments.init_yaml` to write a starter target file and
scenario from.

The host is checked before anything is sent: the URL the user typed is the consent to contact that host (it is
the target's ``allowed_hosts``), but a host that looks like production is refused without ``--allow-production``
(:mod:`mlchaos.experiments.hosts`), and nothing is sent to it. Then, on the service only (each GET and the one
POST bounded by a total deadline, no redirect followed: :mod:`~mlchaos.experiments.signal_reading`):

- the OpenAPI spec at ``--openapi`` or the first of :data:`OPENAPI_PATHS` that answers a JSON document; its
  POST operation with a JSON body (named like a prediction endpoint if several) is the predict path;
- the first of each group of :data:`HEALTH_PATHS` answering 200;
- the metric families at ``--metrics`` or the first of :data:`METRICS_PATHS` answering an exposition;
- ONE request built from the request schema (typical values) or the dataset's first line, and its answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from mlchaos.experiments.errors import InvalidInput
from mlchaos.experiments.hosts import refusal, url_host
from mlchaos.experiments.init_guesses import Family, families_of
from mlchaos.experiments.inputs.inference import resolve_schema
from mlchaos.experiments.inputs.openapi import OpenApiProblem
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.openapi_hints import predict_paths, request_examples
from mlchaos.experiments.service_schema import SchemaUnusable, fetch_openapi
from mlchaos.experiments.signal_reading import SignalReadError, get, post
from mlchaos.experiments.target_check import CheckUnusable, read_bodies
from mlchaos.experiments.typical_bodies import typical_body

OPENAPI_PATHS = ("/openapi.json", "/api/openapi.json", "/swagger.json", "/v3/api-docs", "/docs/openapi.json")
HEALTH_PATHS: Mapping[str, tuple[str, ...]] = {
    "live": ("/health/live", "/healthz", "/livez", "/health"),
    "ready": ("/health/ready", "/readyz", "/ready", "/health"),
    "inference": ("/health/inference", "/health/deep", "/readyz/deep"),
}
METRICS_PATHS = ("/metrics", "/internal/metrics", "/prometheus")
DEADLINE_S = 5.0
"""Each request init sends, whole."""


class InitRefused(InvalidInput):
    """Nothing can be written (exit 2): the message says why, and what to give instead."""


@dataclass
class Discovery:
    """What the service showed."""

    service_url: str
    allowed_host: str | None
    """The URL's host when it is not loopback: the target's ``allowed_hosts``."""
    production: bool = False
    """The host looks like production (and ``--allow-production`` was given)."""
    openapi_path: str | None = None
    document: dict[str, Any] | None = None
    predict_path: str = "/predict"
    predict_note: str = ""
    schema: RequestSchema = field(default_factory=RequestSchema)
    examples: dict[str, Any] = field(default_factory=dict)
    health: dict[str, str | None] = field(default_factory=dict)
    metrics_path: str | None = None
    families: list[Family] = field(default_factory=list)
    dataset: Path | None = None
    labelled: bool = False
    body: dict[str, Any] = field(default_factory=dict)
    status: int | None = None
    answer: Any = None
    """The one answer's JSON body (``None`` if it had none)."""
    headers: dict[str, str] = field(default_factory=dict)
    answer_error: str | None = None
    notes: list[str] = field(default_factory=list)
    """What could not be found, for the person running init."""


def checked_url(url: str, *, allow_production: bool) -> Discovery:
    """The service URL, or :class:`InitRefused` — before anything is sent anywhere."""
    try:
        host = url_host(url)
    except ValueError as exc:
        raise InitRefused(str(exc)) from None
    allowed = None if host.loopback else host.name
    why = refusal(host, allowed_hosts=(allowed,) if allowed else (), allow_production=allow_production)
    if why is not None:
        raise InitRefused(f"{why}; nothing was sent to it")
    production = (
        allowed is not None and refusal(host, allowed_hosts=(allowed,), allow_production=False) is not None
    )
    return Discovery(url.rstrip("/"), allowed, production)


def discover(
    url: str,
    *,
    openapi: str | None = None,
    metrics: str | None = None,
    predict_path: str | None = None,
    dataset: Path | None = None,
    allow_production: bool = False,
) -> Discovery:
    """Look at the service at ``url`` (see the module); :class:`InitRefused` when no starter can be made."""
    found = checked_url(url, allow_production=allow_production)
    try:
        given = read_bodies(dataset, None)
    except CheckUnusable as exc:
        raise InitRefused(str(exc)) from None
    found.dataset, found.labelled = dataset, any(t.label is not None for t in given)
    with requests.Session() as session:
        _openapi(found, openapi)
        _predict_path(found, predict_path)
        _schema(found, [t.body for t in given])
        for name, paths in HEALTH_PATHS.items():
            found.health[name] = next(
                (p for p in paths if _answers_200(session, found.service_url + p)), None
            )
        _metrics(session, found, metrics)
        if given:
            found.body = given[0].body
        elif found.schema.features:
            found.body = typical_body(found.schema, found.examples)
        else:
            tried = found.openapi_path or ", ".join(OPENAPI_PATHS)
            raise InitRefused(
                f"no request can be built: no OpenAPI spec describing a JSON request body at {tried} — give "
                "--openapi PATH (where the service publishes it) or --dataset FILE (JSONL requests)"
            )
        _ask(session, found)
    return found


def _openapi(found: Discovery, path: str | None) -> None:
    for candidate in (path,) if path is not None else OPENAPI_PATHS:
        try:
            found.document = fetch_openapi(found.service_url, candidate, headers={}, deadline_s=DEADLINE_S)
        except SchemaUnusable as exc:
            if path is not None:  # asked for: it must be there
                raise InitRefused(f"--openapi {path}: {exc}") from None
            continue
        found.openapi_path = candidate
        return
    found.notes.append(f"no OpenAPI spec at {', '.join(OPENAPI_PATHS)} (give --openapi PATH if it has one)")


def _predict_path(found: Discovery, given: str | None) -> None:
    candidates = predict_paths(found.document) if found.document is not None else []
    if given is not None:
        found.predict_path = given
        found.predict_note = "given with --predict-path"
    elif candidates:
        found.predict_path = candidates[0]
        others = f"; others: {', '.join(candidates[1:])}" if candidates[1:] else ""
        found.predict_note = f"the POST with a JSON body in {found.openapi_path}{others}"
    else:
        found.predict_note = "fill in: a guess — no OpenAPI spec told (or give --predict-path)"


def _schema(found: Discovery, bodies: list[dict[str, Any]]) -> None:
    try:
        found.schema = resolve_schema(
            RequestSchema(), bodies=bodies, openapi=found.document, predict_path=found.predict_path
        )
    except OpenApiProblem as exc:
        found.notes.append(f"{found.openapi_path}: {exc}")
        found.document = None
        found.openapi_path = None
        found.schema = resolve_schema(
            RequestSchema(), bodies=bodies, openapi=None, predict_path=found.predict_path
        )
    if found.document is not None:
        found.examples = request_examples(found.document, found.predict_path)


def _answers_200(session: requests.Session, url: str) -> bool:
    try:
        return get(session, url, deadline_s=DEADLINE_S).status == 200
    except SignalReadError:
        return False


def _metrics(session: requests.Session, found: Discovery, path: str | None) -> None:
    for candidate in (path,) if path is not None else METRICS_PATHS:
        try:
            answer = get(session, found.service_url + candidate, deadline_s=DEADLINE_S)
            if answer.status != 200:
                raise SignalReadError(f"HTTP {answer.status}")
            families = families_of(text_string_to_metric_families(answer.text))
        except (
            Exception
        ) as exc:  # the parser raises ValueError mostly, but not only, on what is no exposition
            if path is not None:
                raise InitRefused(f"--metrics {path}: not a Prometheus exposition ({exc})") from None
            continue
        if families:
            found.metrics_path, found.families = candidate, families
            return
    found.notes.append(
        f"no Prometheus metrics at {', '.join(METRICS_PATHS)} (give --metrics PATH if it has them)"
    )


def _ask(session: requests.Session, found: Discovery) -> None:
    """The one request, and its answer."""
    body = json.dumps(found.body, separators=(",", ":")).encode()
    try:
        answer = post(session, found.service_url + found.predict_path, body, deadline_s=DEADLINE_S)
    except SignalReadError as exc:
        found.answer_error = str(exc)
        return
    found.status, found.headers = answer.status, dict(answer.headers)
    try:
        found.answer = json.loads(answer.text)
    except ValueError:
        found.answer = None
    if not 200 <= answer.status < 300:
        found.answer_error = f"HTTP {answer.status}: {answer.text[:200]}"
