"""`POST /webhooks/{source}`: verify → parse → ingest (one transaction) → 202 only after the commit.

Every refusal is a clear 4xx with a reason and writes nothing.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.routing import Route

from adapters.http_body import BodyTooLargeError, read_limited
from adapters.sources.base import FetchNeeded, IgnoredEvent, SourceError
from adapters.sources.generic import GenericFeedback
from adapters.sources.registry import adapter_for
from bot.context import Context
from bot.domain import FeedbackIn, utcnow
from bot.telemetry import (
    ALERTS_CREATED,
    DATABASE_UNAVAILABLE,
    FEEDBACK_RECEIVED,
    INGEST_SECONDS,
    WEBHOOKS_IGNORED,
    WEBHOOKS_REJECTED,
)
from storage.outage import DATABASE_UNAVAILABLE as UNAVAILABLE_REASON
from storage.outage import RETRY_AFTER_SECONDS, is_database_outage
from storage.queries.fetch import queue_fetch
from storage.queries.ignored_webhooks import count_ignored_webhook

log = structlog.get_logger("hotloop.webhooks")


def install_openapi_components(app: FastAPI) -> None:
    """The generic body's nested models (Customer, GenericAnswer) live in components, where its refs point."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            spec.setdefault("components", {}).setdefault("schemas", {}).update(_BODY_DEFS)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def refuse(status: int, reason: str, *, headers: dict[str, str] | None = None) -> JSONResponse:
    WEBHOOKS_REJECTED.labels(status=str(status)).inc()
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A repeat of a known response: no second alert",
        "content": {"application/json": {}},
    },
    202: {"description": "Accepted and committed: `alert` is the hot alert key, or null when none is needed"},
    400: {"description": "Malformed body (not JSON, nested too deep)"},
    401: {"description": "Missing, wrong or stale signature"},
    404: {"description": "Unknown source"},
    408: {"description": "The body did not arrive in time (HOTLOOP_HTTP_BODY_TIMEOUT_SECONDS)"},
    413: {"description": "Body larger than 256 KiB"},
    422: {"description": "Body does not fit the schema"},
    503: {"description": "The database is unavailable: nothing was stored; retry after `Retry-After` s"},
}
_BODY_SCHEMA = GenericFeedback.model_json_schema(ref_template="#/components/schemas/{model}")
_BODY_DEFS = _BODY_SCHEMA.pop("$defs", {})  # registered as components by `install_openapi_components`
_OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": _BODY_SCHEMA
            }
        },
    },
    "parameters": [
        {"name": "X-Hotloop-Signature", "in": "header", "required": True, "schema": {"type": "string"},
         "description": "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<raw body>\")>"}
    ],
}


def mount_webhooks(app: FastAPI) -> None:
    """The hottest path in hotloop, so it is served by a plain Starlette route placed first: FastAPI's
    per-request machinery (dependency solving, exit stacks, and an `include_router` that resolves its
    routes again on every request) was ~20 % of the CPU per webhook (bench/ingest.py). The FastAPI
    route behind it calls the same function and is what documents it in OpenAPI; it serves POST only
    if the plain route is ever removed."""
    app.router.routes.insert(0, Route("/webhooks/{source}", _plain_receive, methods=["POST"],
                                      include_in_schema=False))
    app.add_api_route("/webhooks/{source}", receive_feedback, methods=["POST"], status_code=202,
                      responses=_RESPONSES, openapi_extra=_OPENAPI_BODY, tags=["webhooks"],
                      summary="Receive one survey response")
    app.add_api_route("/webhooks/{source}", check_webhook, methods=["HEAD"], tags=["webhooks"],
                      summary="Check a webhook URL (SurveyMonkey does this when a webhook is created)")
    install_openapi_components(app)


async def _plain_receive(request: Request) -> JSONResponse:
    return await receive_feedback(request.path_params["source"], request)


async def receive_feedback(source: str, request: Request) -> JSONResponse:
    """The generic body is documented here; other kinds accept their platform's own webhook as sent."""
    ctx: Context = request.app.state.ctx
    started = time.perf_counter()
    try:
        body = await read_limited(request, ctx.settings.max_body_bytes)
    except BodyTooLargeError:
        return refuse(413, f"body larger than {ctx.settings.max_body_bytes} bytes")
    try:
        response = await _handle(ctx, source, request, body)
    except Exception as error:  # source lookup, configuration reload, store, fetch queue
        if not is_database_outage(error):
            raise
        log.warning("webhook.database_unavailable", source=source, error=type(error).__name__)
        DATABASE_UNAVAILABLE.inc()
        return refuse(503, UNAVAILABLE_REASON, headers={"retry-after": str(RETRY_AFTER_SECONDS)})
    INGEST_SECONDS.observe(time.perf_counter() - started)
    return response


async def _handle(ctx: Context, source: str, request: Request, body: bytes) -> JSONResponse:
    runtime = await ctx.source(source)
    if runtime is None:
        return refuse(404, f"unknown source {source!r}")
    adapter = adapter_for(runtime.kind)
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        adapter.verify(headers, body, secret=runtime.secret, now=time.time())
        parsed = adapter.parse(headers, body, mapping=runtime.mapping)
    except IgnoredEvent as ignored:
        return await _ignore(ctx, runtime.name, ignored)
    except SourceError as error:
        return refuse(error.status, error.reason)
    if isinstance(parsed, FetchNeeded):
        return await _queue_fetch(ctx, runtime.id, parsed)
    return await _ingest(ctx, runtime.id, runtime.name, parsed)


async def _ignore(ctx: Context, source: str, ignored: IgnoredEvent) -> JSONResponse:
    """A 2xx that stores nothing is never silent: logged, counted in Prometheus and in the database
    (`/hotloop status`). The reason is a fixed code; the body and its contents are never logged."""
    await count_ignored_webhook(ctx.sessions, source=source, reason=ignored.code, now=utcnow())
    WEBHOOKS_IGNORED.labels(source=source, reason=ignored.code).inc()
    log.info("webhook.ignored", source=source, reason=ignored.code, detail=ignored.reason)
    return JSONResponse({"alert": None, "ignored": ignored.reason}, status_code=202)


async def check_webhook(source: str, request: Request) -> JSONResponse:
    ctx: Context = request.app.state.ctx
    found = await ctx.source(source) is not None
    return JSONResponse(None, status_code=200 if found else 404)


async def _ingest(ctx: Context, source_id: int, source_name: str, item: FeedbackIn) -> JSONResponse:
    result = await ctx.ingest_queue.submit(
        source_id=source_id,
        source_name=source_name,
        item=item,
        config=await ctx.config.get(),
        alarming_words=ctx.settings.alarming_words,
        now=utcnow(),
    )
    ctx.signal.notify()
    FEEDBACK_RECEIVED.labels(source=source_name, result="duplicate" if result.duplicate else "new").inc()
    if result.alert_key and not result.duplicate and result.severity:
        ALERTS_CREATED.labels(severity=result.severity).inc()
    body = {"alert": result.alert_key}
    return JSONResponse(body, status_code=200 if result.duplicate else 202)


async def _queue_fetch(ctx: Context, source_id: int, needed: FetchNeeded) -> JSONResponse:
    created = await queue_fetch(
        ctx.sessions, source_id=source_id, external_id=needed.external_id, ref=dict(needed.ref), now=utcnow()
    )
    ctx.signal.notify()
    return JSONResponse({"alert": None, "queued": needed.external_id}, status_code=202 if created else 200)
