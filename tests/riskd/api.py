"""risk-api, the gateway the load hits: a bare Starlette app (no FastAPI) on uvicorn.

POST /api/v2/score        the answer; the serving tier only in the ``X-Served-By`` header
GET  /api/v2/openapi.json the OpenAPI 3.0 document
GET  /healthz             alive (200 while the process serves)
GET  /readyz              ready (200 once the models are loaded, 503 before)
GET  /readyz/deep         a canary through the chain: 200 if gold or silver answered within 500 ms, else 503
GET  /internal/metrics    Prometheus text

Run by supervisord as ``python -m riskd.api --config WORKDIR/riskd.json``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from riskd import models, openapi
from riskd.chain import Answer
from riskd.config import HOST, RiskdConfig
from riskd.service import Service
from riskd.validation import MAX_BODY_BYTES, Rejection, parse

log = logging.getLogger("riskd.api")

_CORRELATION_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
_DEGRADED: Final = ("silver", "bronze", "default")


def _problem(status: int, problem: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"problem": problem, "fields": []}, status_code=status, headers=headers)


async def _read_body(request: Request) -> bytes:
    """The body, refusing (413) more than MAX_BODY_BYTES without reading the rest into memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise Rejection(413, f"body over {MAX_BODY_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Rejection(413, f"body over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _answer_body(answer: Answer, correlation_id: str) -> dict[str, Any]:
    return {
        "outputs": [
            {"name": "decision", "data": [models.decision(answer.p_block), round(answer.p_block, 6)]}
        ],
        "meta": {
            "confidence": round(answer.confidence, 6),
            "needs_review": answer.review_reason is not None,
            "review_reason": answer.review_reason,
            "load_shed": answer.load_shed,
            "request": correlation_id,
        },
    }


def create_app(service: Service) -> Starlette:
    config = service.config
    lenient_numbers = config.has("nan_500")
    mislabel = config.has("degraded_labelled_gold")

    async def score(request: Request) -> Response:
        started = time.perf_counter()
        given = request.headers.get("x-correlation-id", "")
        correlation_id = given if _CORRELATION_ID.fullmatch(given) else uuid.uuid4().hex[:16]
        if not service.ready:
            return _problem(503, "models still loading", {"Retry-After": "1"})
        served_by = None
        try:
            answer = await service.score(parse(await _read_body(request), lenient_numbers=lenient_numbers))
        except Rejection as rejection:
            service.metrics.rejections.labels(str(rejection.status)).inc()
            response: Response = JSONResponse(rejection.body(), status_code=rejection.status)
        except Exception:
            log.exception("POST /api/v2/score failed")
            response = _problem(500, "internal")
        else:
            served_by = answer.served_by
            label = "gold" if mislabel and served_by in _DEGRADED else served_by  # degraded_labelled_gold
            response = JSONResponse(_answer_body(answer, correlation_id), headers={"X-Served-By": label})
        response.headers["X-Correlation-Id"] = correlation_id
        if service.cold():  # the first seconds after start: caches warming
            await asyncio.sleep(config.cold_delay_s)
        if served_by is not None:
            service.metrics.latency.labels(served_by).observe(time.perf_counter() - started)
        return response

    async def healthz(request: Request) -> Response:
        return JSONResponse({"alive": True})

    async def readyz(request: Request) -> Response:
        if not service.ready:
            return _problem(503, "models still loading")
        return JSONResponse({"ready": True})

    async def deep(request: Request) -> Response:
        if not service.ready:
            return _problem(503, "models still loading")
        answer, seconds = await service.canary()
        ok = answer.served_by in ("gold", "silver") and seconds <= config.deep_budget_s
        payload = {"ok": ok, "served_by": answer.served_by, "seconds": round(seconds, 4)}
        return JSONResponse(payload, status_code=200 if ok else 503)

    async def metrics(request: Request) -> Response:
        service.refresh()
        return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def spec(request: Request) -> Response:
        return JSONResponse(openapi.document())

    async def http_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _problem(exc.status_code, exc.detail, dict(exc.headers or {}))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loading = asyncio.create_task(asyncio.to_thread(service.load))
        loading.add_done_callback(_die_if_failed)
        try:
            yield
        finally:
            await service.upstreams.aclose()

    routes = [
        Route("/api/v2/score", score, methods=["POST"]),
        Route("/api/v2/openapi.json", spec, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/readyz/deep", deep, methods=["GET"]),
        Route("/internal/metrics", metrics, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_problem})


def _die_if_failed(task: asyncio.Task[None]) -> None:
    """A risk-api that cannot load its models must not linger unready: exit, and let supervisord retry."""
    if not task.cancelled() and task.exception() is not None:
        log.critical("loading the models failed", exc_info=task.exception())
        os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = RiskdConfig.from_argv(argv, prog="riskd.api")
    uvicorn.run(
        create_app(Service(config)),
        host=HOST,
        port=config.ports.api,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
