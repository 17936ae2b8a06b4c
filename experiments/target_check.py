"""``mlchaos target check FILE``: one look at a target, faulting nothing — what a run would read of it.

In order: the health endpoints (a service that is unreachable or not ready ends the look: exit 2); the request
schema as a run resolves it (:mod:`~mlchaos.experiments.service_schema`); a few requests to the predict path,
their answers read with the load's own reader (:class:`~mlchaos.experiments.load.answers.AnswerReader`), so what
is shown is exactly what a run would record; one probe round of every declared signal (the run's
:class:`~mlchaos.experiments.probes.Prober`); the declared toxiproxy proxies, supervisord programs and
Kubernetes workloads. :func:`look` gathers it into :class:`Findings`, :mod:`~mlchaos.experiments.check_view`
shows it.

Everything declared must be readable: a response field no answer carries, a tier off the ladder, a signal that
reads no series or a value no state maps, a health path that does not answer 200, a proxy or program that is not
there — each is a *problem*, named in the closing line (exit 1). Every request has a total deadline and follows
no redirect (:mod:`~mlchaos.experiments.signal_reading`), and a prediction answer larger than a run's default
``load.max_response_bytes`` is an error, as it would be in a run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from mlchaos.experiments.backend_states import Backend, backend_states
from mlchaos.experiments.errors import InvalidInput
from mlchaos.experiments.file_limits import MAX_DATASET_BYTES, FileTooLarge, check_size
from mlchaos.experiments.http_bounds import DEFAULT_MAX_RESPONSE_BYTES
from mlchaos.experiments.inputs.inference import resolve_schema
from mlchaos.experiments.inputs.openapi import OpenApiProblem, openapi_features
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.kubernetes.readiness import describe_cluster
from mlchaos.experiments.load.answers import AnswerReader
from mlchaos.experiments.load.spec import LoadSpec, RequestTemplate
from mlchaos.experiments.openapi_hints import request_examples
from mlchaos.experiments.probes import Prober
from mlchaos.experiments.records import ProbeSample
from mlchaos.experiments.service_schema import SchemaUnusable, fetch_openapi
from mlchaos.experiments.signal_mapping import DeclaredSignal, declared
from mlchaos.experiments.signal_reading import SignalReadError, get, post
from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.experiments.typical_bodies import typical_body
from mlchaos.experiments.verifier_data import Observed

DEFAULT_REQUESTS = 3
HEALTH_DEADLINE_S = 3.0
"""Each health GET, and each signal read of the probe round."""
REQUEST_DEADLINE_S = 10.0
"""Each POST to the predict path, whole: a cold service's first answer may be slow."""
MAX_DATASET_LINES = 10_000
"""Dataset lines read: the first ``--requests`` are sent, all of them complete the request schema."""
HEALTH_CHECKS = ("live", "ready", "inference", "metrics")
_PROBE_HEALTH = ("ready", "live", "inference")


class CheckUnusable(InvalidInput):
    """The check cannot be made as asked (a dataset or body that is no request): exit 2, nothing sent."""


@dataclass(frozen=True)
class HealthCheck:
    name: str
    path: str | None
    """``None``: the target declares none (``inference: null``, ``metrics: null``)."""
    status: int | None = None
    latency_ms: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.path is None or self.status == 200


@dataclass(frozen=True)
class AnswerRow:
    """One request sent and what the target's response mapping read of its answer (as a run records it)."""

    status: int | None
    latency_ms: float
    tier: str | None = None
    confidence: float | None = None
    prediction: str | None = None
    score: float | None = None
    review: bool | None = None
    shed: bool | None = None
    error: str | None = None
    label: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class SchemaFound:
    schema: RequestSchema
    sources: Mapping[str, str]
    """Feature path → where it came from: declared, openapi, dataset or body."""
    examples: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Findings:
    """Everything one look showed; :attr:`problems` is what was declared but could not be read."""

    endpoints: TargetEndpoints
    health: list[HealthCheck]
    schema: SchemaFound | None = None
    answers: list[AnswerRow] = field(default_factory=list)
    fields: dict[str, tuple[str, list[str], str]] = field(default_factory=dict)
    """``response.X`` → (its spec, distinct values read, a note) for every declared response field."""
    signals: list[ProbeSample] = field(default_factory=list)
    declared: tuple[DeclaredSignal, ...] = ()
    backends: list[Backend] = field(default_factory=list)
    cluster: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    labels: frozenset[str] = frozenset()
    """The labels of the given requests (a dataset's): canaries for quality and calibration."""

    @property
    def labelled(self) -> bool:
        return bool(self.labels)

    @property
    def unreachable(self) -> str | None:
        """Why the service cannot be looked at (exit 2), or ``None``."""
        ready = next(h for h in self.health if h.name == "ready")
        if ready.status != 200:
            answer = ready.error or f"HTTP {ready.status}"
            return f"the service at {self.endpoints.service_url} is not ready ({ready.path}: {answer})"
        return None

    def observed(self) -> Observed:
        """What the verifiers' requirements are judged on (:mod:`~mlchaos.experiments.verifier_data`)."""
        ok = [a for a in self.answers if a.ok]
        tiers = self.endpoints.tiers
        read_ok = [s for s in self.signals if s.error is None]
        breakers = {
            s.check.split(":")[1] for s in read_ok if s.check.startswith(("breaker:", "transitions:"))
        }
        gauges = {s.check.removeprefix("gauge:") for s in read_ok if s.check.startswith("gauge:")}
        return Observed(
            answered=any(a.status is not None for a in self.answers),
            tier_on_ladder=any(a.tier in tiers for a in ok),
            prediction=any(a.prediction is not None for a in ok),
            confidence=any(a.confidence is not None for a in ok),
            score=any(a.score is not None for a in ok),
            review=any(a.review is not None for a in ok),
            shed=self.endpoints.response.shed is not None,
            breakers=tuple(sorted(breakers)),
            drift=any(s.check.startswith("drift:") for s in read_ok),
            labelled=self.labelled,
            predictions_are_labels=self._predictions_are_labels(ok),
            workloads=self.endpoints.kubernetes is not None and bool(self.endpoints.kubernetes.workloads),
            gauges=tuple(sorted(gauges)),
        )

    def _predictions_are_labels(self, ok: Sequence[AnswerRow]) -> bool:
        """Whether the predictions read are written as the dataset's labels are (``quality`` compares them as
        text: a service answering ``1`` to a dataset labelled ``fraud`` is never right)."""
        predictions = {a.prediction for a in ok if a.prediction is not None}
        return not (self.labels and predictions) or bool(predictions & self.labels)


def read_bodies(dataset: Path | None, body: str | None) -> list[RequestTemplate]:
    """The requests ``--dataset`` or ``--body`` give (none: built from the schema); :class:`CheckUnusable`."""
    if dataset is not None and body is not None:
        raise CheckUnusable("give --dataset or --body, not both")
    if body is not None:
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise CheckUnusable(f"--body: not JSON ({exc})") from None
        if not isinstance(document, dict):
            raise CheckUnusable(f"--body: expected a JSON object, e.g. '{{\"x\": 1}}', got {body!r}")
        return [RequestTemplate(body=document)]
    if dataset is None:
        return []
    found: list[RequestTemplate] = []
    try:
        check_size(dataset, MAX_DATASET_BYTES)
        with dataset.open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                if len(found) >= MAX_DATASET_LINES:
                    break
                if line.strip():
                    try:
                        found.append(RequestTemplate.model_validate_json(line))
                    except ValueError as exc:
                        raise CheckUnusable(
                            f'{dataset}:{number}: expected {{"body": {{...}}, "label": ...}} ({exc})'
                        ) from None
    except FileTooLarge as exc:
        raise CheckUnusable(f"--dataset {dataset}: {exc}, the most a load dataset may be") from None
    except OSError as exc:
        raise CheckUnusable(f"--dataset {dataset}: {exc}") from None
    if not found:
        raise CheckUnusable(f"--dataset {dataset}: no requests in it")
    return found


def look(
    endpoints: TargetEndpoints, given: Sequence[RequestTemplate], *, count: int, origin: str = "dataset"
) -> Findings:
    """One look at the target (see the module); sends ``count`` requests unless it is not ready. ``given``:
    the bodies of ``--dataset`` or ``--body`` (``origin`` says which), else built from the schema."""
    with requests.Session() as session:
        session.headers.update(endpoints.headers)
        findings = Findings(endpoints, _health(session, endpoints))
        if findings.unreachable is not None:
            return findings
        findings.problems += [
            f"health.{h.name} {h.path} answered {h.error or f'HTTP {h.status}'}"
            for h in findings.health
            if not h.ok
        ]
        findings.schema = _schema(endpoints, given, origin, findings.problems)
        findings.labels = frozenset(t.label for t in given if t.label is not None)
        bodies = _request_bodies(findings.schema, given, count, findings.problems)
        findings.answers = [_send(session, endpoints, template) for template in bodies]
    _read_fields(findings)
    findings.declared = declared(endpoints.signals)
    prober = Prober(endpoints, interval_s=HEALTH_DEADLINE_S)
    try:
        samples = prober.sample_once(inference=False)
    finally:
        prober.stop()
    findings.signals = [s for s in samples if s.check not in _PROBE_HEALTH]
    findings.problems += [str(s.error) for s in findings.signals if s.error is not None]
    findings.backends = backend_states(endpoints, deadline_s=HEALTH_DEADLINE_S)
    findings.problems += [f"{b.kind} '{b.name}': {b.detail}" for b in findings.backends if not b.ok]
    if endpoints.kubernetes is not None:
        findings.cluster = describe_cluster(endpoints)
    return findings


def _health(session: requests.Session, endpoints: TargetEndpoints) -> list[HealthCheck]:
    found = []
    for name in HEALTH_CHECKS:
        path = getattr(endpoints.health, name)
        if path is None:
            found.append(HealthCheck(name, None))
            continue
        started = time.monotonic()
        try:
            answer = get(session, endpoints.service_url + path, deadline_s=HEALTH_DEADLINE_S)
            found.append(HealthCheck(name, path, answer.status, _since(started)))
        except SignalReadError as exc:
            found.append(HealthCheck(name, path, None, _since(started), str(exc)))
    return found


def _since(started: float) -> float:
    return (time.monotonic() - started) * 1000


def _schema(
    endpoints: TargetEndpoints, given: Sequence[RequestTemplate], origin: str, problems: list[str]
) -> SchemaFound | None:
    """The request schema as a run resolves it, from the declaration, its OpenAPI spec and the given bodies."""
    declared_schema, document = endpoints.request, None
    if declared_schema.openapi is not None:
        try:
            document = fetch_openapi(
                endpoints.service_url, declared_schema.openapi, headers=endpoints.headers
            )
        except SchemaUnusable as exc:
            problems.append(f"request.openapi: {exc}")
    bodies = [template.body for template in given]
    try:
        schema = resolve_schema(
            declared_schema, bodies=bodies, openapi=document, predict_path=endpoints.predict_path
        )
        published = openapi_features(document, endpoints.predict_path) if document is not None else {}
    except OpenApiProblem as exc:
        problems.append(f"request.openapi: the service's OpenAPI spec ({declared_schema.openapi}): {exc}")
        return None
    sources = {
        path: "declared" if path in declared_schema.features else "openapi" if path in published else origin
        for path in schema.features
    }
    examples = request_examples(document, endpoints.predict_path) if document is not None else {}
    return SchemaFound(schema, sources, examples)


def _request_bodies(
    schema: SchemaFound | None, given: Sequence[RequestTemplate], count: int, problems: list[str]
) -> list[RequestTemplate]:
    if given:
        return [given[i % len(given)] for i in range(count)]
    if schema is None or not schema.schema.features:
        problems.append(
            "no request could be built: the target declares no request schema (request.features, or "
            "request.openapi) — give --dataset FILE or --body JSON"
        )
        return []
    return [RequestTemplate(body=typical_body(schema.schema, schema.examples))] * count


@dataclass(frozen=True)
class _Response:
    """What :class:`AnswerReader` reads of a response: its body and headers."""

    content: bytes
    headers: Mapping[str, str]


def _send(session: requests.Session, endpoints: TargetEndpoints, template: RequestTemplate) -> AnswerRow:
    body = json.dumps(template.body, separators=(",", ":")).encode()
    started = time.monotonic()
    try:
        answer = post(
            session,
            endpoints.service_url + endpoints.predict_path,
            body,
            deadline_s=REQUEST_DEADLINE_S,
            max_bytes=DEFAULT_MAX_RESPONSE_BYTES,
        )
    except SignalReadError as exc:
        return AnswerRow(None, _since(started), error=str(exc), label=template.label)
    latency_ms = _since(started)
    response = _Response(answer.text.encode(), answer.headers)
    tier, confidence, prediction, score, review, shed, error = _reader(endpoints).read(
        answer.status, response, None
    )
    return AnswerRow(
        answer.status, latency_ms, tier, confidence, prediction, score, review, shed, error, template.label
    )


def _reader(endpoints: TargetEndpoints) -> AnswerReader:
    """The load's own reader, with the target's response mapping (as the engine's load spec carries it)."""
    response = endpoints.response
    spec = LoadSpec(
        base_url=endpoints.service_url,
        users=1,
        spawn_rate=1,
        duration_s=1,
        tier_field=response.tier,
        confidence_field=response.confidence,
        prediction_field=response.prediction,
        score_field=response.score,
        review_field=response.review,
        shed_field=response.shed,
    )
    return AnswerReader(spec)


_REQUIRED_FIELDS = ("tier", "prediction", "confidence", "score")
"""Declared, these must be read in a 2xx answer. ``review`` and ``shed`` may show only on some answers (a
header set on shed answers only): not seeing them is a note, not a problem."""


def _read_fields(findings: Findings) -> None:
    """Each declared response field: the values the answers showed, and what is wrong with it."""
    ok = [a for a in findings.answers if a.ok]
    response, tiers = findings.endpoints.response, findings.endpoints.tiers
    if findings.answers and not ok:
        statuses = ", ".join(a.error or f"HTTP {a.status}" for a in findings.answers)
        findings.problems.append(f"no 2xx answer to read the response fields from ({statuses})")
    for name in ("tier", "prediction", "confidence", "score", "review", "shed"):
        spec = getattr(response, name)
        if spec is None:
            continue
        values = list(dict.fromkeys(_shown(getattr(a, name)) for a in ok if getattr(a, name) is not None))
        note = ""
        if ok and not values:
            note = f"not in any of the {len(ok)} 2xx answers"
            if name in _REQUIRED_FIELDS:
                findings.problems.append(f"response.{name} '{spec}' could not be read: {note}")
            else:
                note += " (read as false where absent)"
        elif name == "tier" and (off := [v for v in values if v not in tiers]):
            note = f"not on the ladder ({', '.join(tiers)}): {', '.join(off)}"
            findings.problems.append(f"response.tier read {', '.join(off)}, which the ladder (tiers) lacks")
        elif name == "tier":
            note = "on the ladder"
        findings.fields[name] = (spec, values, note)


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
