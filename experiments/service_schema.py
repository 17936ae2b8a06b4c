"""The service's request schema for a run: fetched, resolved and checked once, before the load starts.

The target declares what it knows (``request``); the run completes it from the service's OpenAPI spec, when the
target names one (``request.openapi``: fetched from the service here), and from the scenario's dataset — or, for a
templated load, from :data:`TEMPLATE_RENDERS` bodies rendered from its template — with
:func:`~mlchaos.experiments.inputs.inference.resolve_schema`. Then every fault is asked whether it fits the
resolved schema (``FaultSpec.service_problems``): the checks that validation could not make because part of the
schema was not known yet. Problems here make the run invalid (exit 2) before anything is touched.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import requests

from mlchaos.experiments.errors import TargetUnusable
from mlchaos.experiments.inputs.inference import resolve_schema
from mlchaos.experiments.inputs.openapi import OpenApiProblem
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.load.bodies import BodyError, TemplateBodies
from mlchaos.experiments.load.spec import LoadSpec
from mlchaos.experiments.load.spec_from_scenario import dataset_requests, load_seed
from mlchaos.experiments.plan import Plan
from mlchaos.experiments.signal_reading import SignalReadError, get
from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.injectors import FaultSpec

OPENAPI_DEADLINE_S = 10.0
"""The whole fetch of an OpenAPI document (connect, headers, body): a slow service does not hold up a run."""
TEMPLATE_RENDERS = 50
"""Bodies rendered from a templated load's template to infer ranges and categories from."""


class SchemaUnusable(TargetUnusable):
    """The request schema cannot be resolved, or a fault does not fit it; the message says what and what to do."""


def fetch_openapi(
    service_url: str, path: str, *, headers: Mapping[str, str], deadline_s: float = OPENAPI_DEADLINE_S
) -> dict[str, Any]:
    """``GET service_url + path`` as a JSON object, within ``deadline_s`` in total, size-capped, no redirect
    followed (the document must come from the service itself). Raises :class:`SchemaUnusable` saying why not."""
    url = service_url.rstrip("/") + path
    with requests.Session() as session:
        session.headers.update(headers)
        try:
            answer = get(session, url, deadline_s=deadline_s)
        except SignalReadError as exc:
            raise SchemaUnusable(f"could not read the OpenAPI spec at {url}: {exc}") from exc
    if answer.status != 200:
        raise SchemaUnusable(f"the OpenAPI spec at {url} answered HTTP {answer.status}, not 200")
    try:
        document = json.loads(answer.text)
    except ValueError as exc:
        raise SchemaUnusable(
            f"the OpenAPI spec at {url} is not JSON ({exc}); mlchaos reads OpenAPI documents in JSON"
        ) from exc
    if not isinstance(document, dict):
        raise SchemaUnusable(f"the OpenAPI spec at {url} is not a JSON object")
    return document


def template_bodies(
    template: dict[str, Any], seed: int, count: int = TEMPLATE_RENDERS
) -> list[dict[str, Any]]:
    """``count`` bodies rendered from a load template, as its first user would send them; none if it does not
    render (the load reports that itself, naming the broken field)."""
    spec = LoadSpec(
        base_url="http://127.0.0.1", users=1, spawn_rate=1, duration_s=1, template=template, seed=seed
    )
    try:
        rendered = itertools.islice(TemplateBodies(spec).for_user(0), count)
        return [body for body in (json.loads(raw) for raw, _ in rendered) if isinstance(body, dict)]
    except BodyError:
        return []


def run_schema(
    target: TargetEndpoints,
    faults: Sequence[FaultSpec],
    *,
    bodies: Sequence[Mapping[str, Any]],
    predict_path: str,
    openapi: Mapping[str, Any] | None = None,
) -> RequestSchema:
    """The target's request schema completed from ``openapi`` (fetched by the caller when the target names one)
    and ``bodies``; :class:`SchemaUnusable` when ``openapi`` has no request body for the predict path, or a fault
    does not fit the result."""
    try:
        schema = resolve_schema(target.request, bodies=bodies, openapi=openapi, predict_path=predict_path)
    except OpenApiProblem as exc:
        raise SchemaUnusable(f"the service's OpenAPI spec ({target.request.openapi}): {exc}") from exc
    problems = [
        f"fault '{fault.id}': {'.'.join(map(str, loc))}: {why}" if loc else f"fault '{fault.id}': {why}"
        for fault in faults
        for loc, why in fault.service_problems(target.response, schema)
    ]
    if problems:
        raise SchemaUnusable(
            "the input faults do not fit the service's request schema — " + "; ".join(problems)
        )
    return schema


def scenario_schema(plan: Plan) -> RequestSchema:
    """The request schema a run's input faults are built from: the target's, completed from its OpenAPI spec (if
    it names one) and the scenario's dataset or body template — only for runs with input faults.
    :class:`SchemaUnusable` if it cannot be, or an input fault does not fit it."""
    target, load = plan.target, plan.scenario.load
    if not any(p.plan.changes_requests for p in plan.faults):
        return target.request
    document = None
    if target.request.openapi is not None:
        document = fetch_openapi(target.service_url, target.request.openapi, headers=target.headers)
    bodies = [r.body for r in dataset_requests(plan)]
    if load.body is not None:
        bodies = template_bodies(load.body, load_seed(plan))
    faults = [p.spec for p in plan.faults]
    path = load.path or target.predict_path
    return run_schema(target, faults, bodies=bodies, predict_path=path, openapi=document)
