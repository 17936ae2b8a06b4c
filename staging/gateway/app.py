"""The gateway's HTTP layer: ``POST /predict``, the three health checks and ``/metrics``.

Bad input always gets a 4xx with ``{"error": ..., "detail": [...]}`` and never reaches the chain: 415 for a
body that is not declared JSON, 413 for one over 16 KiB, 400 for malformed, truncated or too deeply nested JSON
(or not UTF-8), 422 for JSON that fails validation (missing, null, extra or renamed fields, wrong types,
NaN/Infinity as literals or strings, out-of-range values, control characters in the entity id). Every 200
answer carries ``prediction``, ``confidence``, ``score``, ``tier``, ``ood_score``, ``request_id``, ``skipped``,
``shed``, ``review`` and ``review_reason``, plus the ``X-Tier`` and ``X-Request-ID`` headers (and ``X-Review:
1`` when flagged for review, see ``review.py``). Valid requests that were answered feed the drift monitor.

Under the ``no_input_validation`` broken variant the body is parsed as lenient JSON (``NaN`` accepted) and
handed to the chain unchecked; whatever the models then raise becomes a 500 ``{"error": "internal error"}``.

Load shedding comes right after validation (bad input stays a 4xx however busy the gateway is): at most
``max_in_flight`` requests go through the chain at once. One beyond it is answered at once, never queued and
never with a 5xx: ``shed_mode: degrade`` gives a normal 200 answer from the rules tier (static if the rules
decline) with ``"shed": true`` and ``X-Shed: 1``; ``reject`` gives 429 ``{"error": "overloaded", ...}`` with
``Retry-After``. The health checks are never shed and ``/health/ready`` ignores the load: busy is not broken.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Final

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ValidationError
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlchaos.staging.data import CANARY_LABEL, CANARY_REQUEST
from mlchaos.staging.gateway.breaker import BreakerState, CircuitBreaker
from mlchaos.staging.gateway.chain import Answer
from mlchaos.staging.gateway.dependencies import DependencyError
from mlchaos.staging.gateway.service import Gateway
from mlchaos.staging.schemas import PredictRequest, PredictResponse, Tier

log = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 16 * 1024
INFERENCE_LATENCY_BUDGET_MS: Final = 200.0
RETRY_AFTER_S: Final = 1
"""``Retry-After`` of a rejected request: a spike's excess is better spread out than retried at once."""
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_JSON_TYPE = re.compile(r"^application/([a-z0-9.+-]+\+)?json$")


def _request_id(request: Request) -> str:
    """The caller's ``X-Request-ID`` if it is sane (so traces join up), else a fresh one."""
    given = request.headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


def _error(
    status: int, error: str, detail: list[dict[str, Any]], request_id: str | None = None
) -> JSONResponse:
    headers = {"X-Request-ID": request_id} if request_id else None
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def _validation_detail(exc: ValidationError | RequestValidationError) -> list[dict[str, Any]]:
    # loc/msg/type only: echoing the input back could reflect NaN (not JSON) or megabytes of garbage.
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


async def _read_body(request: Request) -> bytes | None:
    """The body, or ``None`` once it exceeds MAX_BODY_BYTES (without reading the rest into memory)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _parse(request: Request, request_id: str, validate: bool = True) -> PredictRequest | JSONResponse:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not _JSON_TYPE.match(content_type):
        detail = [
            {
                "loc": ["header", "content-type"],
                "msg": f"got {content_type or 'none'!r}",
                "type": "media_type",
            }
        ]
        return _error(415, "the body must be JSON (Content-Type: application/json)", detail, request_id)
    body = await _read_body(request)
    if body is None:
        detail = [{"loc": ["body"], "msg": f"at most {MAX_BODY_BYTES} bytes", "type": "too_large"}]
        return _error(413, "request body too large", detail, request_id)
    if not validate:
        return _unchecked(body, request_id)
    try:
        # pydantic's own JSON parser: NaN/Infinity are not JSON, and nesting deeper than its recursion limit is
        # a json_invalid error like any other (no RecursionError).
        return PredictRequest.model_validate_json(body)
    except ValidationError as exc:
        detail = _validation_detail(exc)
        if any(e["type"] == "json_invalid" for e in detail):
            return _error(400, "malformed JSON", detail, request_id)
        return _error(422, "invalid request", detail, request_id)


def _unchecked(body: bytes, request_id: str) -> PredictRequest | JSONResponse:
    """The broken variant: parse leniently, check nothing. A body that is not an object raises a TypeError."""
    try:
        parsed = json.loads(body)  # Python's json accepts NaN and Infinity
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
        detail = [{"loc": ["body"], "msg": str(exc), "type": "json_invalid"}]
        return _error(400, "malformed JSON", detail, request_id)
    return PredictRequest.model_construct(**parsed)


def _answer_response(
    answer: Answer, request_id: str, background: BackgroundTask | None = None
) -> JSONResponse:
    headers = {"X-Tier": answer.label.value, "X-Request-ID": request_id}
    if answer.shed:
        headers["X-Shed"] = "1"
    if answer.review:
        headers["X-Review"] = "1"
    return JSONResponse(_answer_body(answer, request_id), headers=headers, background=background)


def _answer_body(answer: Answer, request_id: str) -> dict[str, Any]:
    response = PredictResponse(
        prediction=answer.prediction,
        confidence=answer.confidence,
        score=answer.score,
        tier=answer.label,
        ood_score=answer.ood_score,
        request_id=request_id,
        skipped=list(answer.skipped),
        shed=answer.shed,
        review=answer.review,
        review_reason=answer.review_reason,
    )
    return response.model_dump(mode="json")


async def _check(
    ping: Callable[[], Awaitable[None]], breaker: CircuitBreaker, required: bool
) -> dict[str, Any]:
    started = time.perf_counter()
    error: str | None = None
    try:
        await ping()
    except DependencyError as exc:
        error = str(exc)
    state = breaker.state
    return {
        "ok": error is None and state is not BreakerState.OPEN,
        "required": required,
        "reachable": error is None,
        "breaker": state.value,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        "error": error,
    }


_COMPONENTS: dict[str, Any] = {}
"""Schemas the /predict description refers to; added to the generated spec's components (see _openapi)."""


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    _COMPONENTS.update(schema.pop("$defs", {}))
    _COMPONENTS[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


PREDICT_OPENAPI: dict[str, Any] = {
    # The handler reads the body itself (to tell malformed JSON, wrong content type and oversize apart, each
    # with its own 4xx), so FastAPI cannot infer the request schema: it is declared from the same model.
    "parameters": [{"name": "X-Request-ID", "in": "header", "required": False, "schema": {"type": "string"}}],
    "requestBody": {"required": True, "content": {"application/json": {"schema": _schema(PredictRequest)}}},
    "responses": {
        "200": {
            "description": "An answer, from the best tier that could give one (also in X-Tier).",
            "content": {"application/json": {"schema": _schema(PredictResponse)}},
        },
        "4XX": {
            "description": "Refused: invalid body (400/422), too large (413), not JSON (415), or shed at "
            "overload in reject mode (429). JSON: {error, detail}."
        },
    },
}


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def spec() -> dict[str, Any]:
        if app.openapi_schema is None:
            generated = get_openapi(title=app.title, version=app.version, routes=app.routes)
            generated.setdefault("components", {}).setdefault("schemas", {}).update(_COMPONENTS)
            app.openapi_schema = generated
        return app.openapi_schema

    return spec


def create_app(gateway: Gateway) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await gateway.close()

    # /openapi.json describes the API (clients and fuzzers read it); no docs UI: it would load scripts from a CDN.
    app = FastAPI(
        title="mlchaos gateway",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    metrics = gateway.metrics
    limit = gateway.limit

    def answered(parsed: PredictRequest, answer: Answer, started: float) -> None:
        """Count a 200 answer, and let the drift monitor see the (valid) request."""
        metrics.observe_answer(answer.label, (s.tier for s in answer.skipped), time.perf_counter() - started)
        metrics.observe_review(answer.review_reason)
        metrics.observe_status(200)
        if gateway.feed_drift_monitor:
            gateway.drift.observe(parsed.model_dump(warnings=False))

    def shed(parsed: PredictRequest, request_id: str, started: float) -> JSONResponse:
        """A request beyond max_in_flight: answered here and now, without a remote call or an await."""
        reason = limit.describe()
        metrics.observe_shed(gateway.shed_mode)
        if gateway.shed_mode == "reject":
            metrics.observe_status(429)
            return JSONResponse(
                {"error": "overloaded", "detail": [{"loc": [], "msg": reason, "type": "overloaded"}]},
                status_code=429,
                headers={"Retry-After": str(RETRY_AFTER_S), "X-Shed": "1", "X-Request-ID": request_id},
            )
        answer = gateway.chain.shed(parsed, reason)
        answered(parsed, answer, started)
        return _answer_response(answer, request_id)  # nothing to cache: only primary answers are

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), [])

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "invalid request", _validation_detail(exc))

    @app.post("/predict", openapi_extra=PREDICT_OPENAPI, summary="Score one transaction")
    async def predict(request: Request) -> Response:
        try:
            return await answer_or_refuse(request)
        except Exception:
            # A bug (only the no_input_validation variant has a known one): a 500, counted and logged here
            # rather than raised, so the connection stays open for the client's next (good) request. The
            # message stays generic: a traceback's details are for the log, not for the client.
            log.exception("POST /predict failed")
            metrics.observe_status(500)
            return _error(500, "internal error", [])

    async def answer_or_refuse(request: Request) -> Response:
        started = time.perf_counter()
        request_id = _request_id(request)
        parsed = await _parse(request, request_id, validate=gateway.validate_input)
        if isinstance(parsed, JSONResponse):
            metrics.observe_status(parsed.status_code)
            return parsed
        if not limit.try_enter():
            return shed(parsed, request_id, started)
        # The slot is held while the chain works and freed however it ends (cancellation included); the cache
        # write after the response is bounded by its own timeout and does not hold one.
        try:
            answer = await gateway.chain.answer(parsed)
        finally:
            limit.leave()
        # Written after the response is sent: the cache never adds latency to an answer.
        response = _answer_response(
            answer, request_id, BackgroundTask(gateway.chain.remember, parsed.entity_id, answer)
        )
        answered(parsed, answer, started)
        return response

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/health/ready")
    async def ready() -> JSONResponse:
        """Ready = can serve the primary tier: feature store and primary model reachable, their breakers not
        open. The cache is reported too but not required (the chain does fine without it). The load is not
        looked at: a gateway shedding a spike is busy, not broken, and taking it out of rotation would only
        push the spike onto its peers."""
        b = gateway.breakers
        feature_store, primary_model, cache = await asyncio.gather(
            _check(gateway.feature_store.ping, b.feature_store, required=True),
            _check(gateway.primary.ping, b.primary_model, required=True),
            _check(gateway.cache.ping, b.cache, required=False),
        )
        checks = {"feature_store": feature_store, "primary_model": primary_model, "cache": cache}
        ok = all(c["ok"] for c in checks.values() if c["required"])
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503
        )

    @app.get("/health/inference")
    async def inference() -> JSONResponse:
        """Deep check: the canary (a known fraud) through the whole chain. Healthy only if the primary tier
        answered it correctly, in a valid shape, within the latency budget; otherwise 503 "degraded". Its
        calls pass the breakers like any request's, but it is not counted in the request metrics or cached, and
        neither counted against max_in_flight nor shed (one probe at a time adds no real load)."""
        started = time.perf_counter()
        canary = PredictRequest.model_validate(CANARY_REQUEST)
        answer = await gateway.chain.answer(canary)
        latency_ms = (time.perf_counter() - started) * 1000
        try:
            body: dict[str, Any] | None = _answer_body(answer, "canary")
        except ValidationError:
            body = None
        checks = {
            "output_valid": body is not None,
            "prediction_correct": answer.prediction == CANARY_LABEL,
            "tier_primary": answer.label is Tier.PRIMARY,
            "latency_ok": latency_ms <= INFERENCE_LATENCY_BUDGET_MS,
        }
        healthy = all(checks.values())
        return JSONResponse(
            {
                "status": "healthy" if healthy else "degraded",
                "tier": answer.label.value,
                "latency_ms": round(latency_ms, 1),
                "checks": checks,
                "answer": body,
            },
            status_code=200 if healthy else 503,
        )

    @app.get("/metrics")
    async def prometheus() -> Response:
        gateway.drift.refresh()  # scores as of now, even if no request came since the last recomputation
        return Response(metrics.render(gateway.breakers.all()), media_type=CONTENT_TYPE_LATEST)

    return app
