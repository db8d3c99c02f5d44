"""`create_app()`: the ASGI composition root. Mounts every route; the lifespan opens the database and
starts the workers for roles `worker`/`all`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters import webhook_routes
from adapters.api_docs import mount_docs
from adapters.chats import build_chats
from adapters.http_guards import RequestGuards
from adapters.slack.routes import mount_slack
from adapters.teams.routes import mount_teams
from bot.chat import Chat
from bot.context import Context
from bot.crypto import UndecryptableSecretError
from bot.health import database_problem, pending_outbox
from bot.settings import Role, Settings
from bot.telemetry import OUTBOX_DEPTH
from jobs.runner import Workers

log = structlog.get_logger("hotloop.web")

ChatFactory = Callable[[Settings, Context], Mapping[str, Chat]]
# name → () -> (details shown in /readyz, why not ready or None); adapters add theirs (Slack Socket Mode)
ReadinessCheck = Callable[[], tuple[dict[str, object], str | None]]


def create_app(
    settings: Settings,
    *,
    role: Role = Role.ALL,
    chats: ChatFactory = build_chats,
    prepare_schema: Callable[[Settings], Any] | None = None,
) -> FastAPI:
    """`prepare_schema` (e.g. run migrations) runs before anything touches the database."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if prepare_schema is not None:
            await prepare_schema(settings)
        ctx = await Context.open(settings)
        app.state.ctx = ctx
        app.state.chats = chats(settings, ctx)
        workers = Workers(ctx, app.state.chats)
        app.state.workers = workers
        if role in (Role.WORKER, Role.ALL):
            workers.start()
        log.info("hotloop.started", role=role.value, database=ctx.engine.dialect.name,
                 chats=sorted(app.state.chats), mode=settings.mode.value)
        try:
            yield
        finally:
            await workers.stop()
            for chat in app.state.chats.values():
                close = getattr(chat, "aclose", None)  # adapters that own an HTTP client
                if close is not None:
                    await close()
            await ctx.close()

    app = FastAPI(title="hotloop", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Survey webhooks in; hot alerts out to Slack and Microsoft Teams.")
    mount_docs(app)  # /docs without a CDN
    app.state.readiness_checks = {}
    webhook_routes.mount_webhooks(app)
    _mount_ops(app)
    _mount_chat_routes(app, settings)
    _install_error_handlers(app)
    # outermost of hotloop's layers: a slow body → 408, an unreachable database → 503, on every route
    app.add_middleware(RequestGuards, body_timeout=settings.http_body_timeout_seconds)
    return app


def _mount_chat_routes(app: FastAPI, settings: Settings) -> None:
    mount_slack(app, settings)
    mount_teams(app, settings)


def _mount_ops(app: FastAPI) -> None:
    @app.get("/healthz", tags=["ops"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], summary="The database answers (and Slack Socket Mode, if used, is up)")
    async def readyz(request: Request) -> JSONResponse:
        ctx: Context = request.app.state.ctx
        problem = await database_problem(ctx.sessions)
        if problem is not None:
            return JSONResponse({"status": "unavailable", "reason": problem}, status_code=503)
        return _readiness(request.app.state.readiness_checks)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics(request: Request) -> PlainTextResponse:
        ctx: Context = request.app.state.ctx
        OUTBOX_DEPTH.set(await pending_outbox(ctx.sessions))
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)


def _readiness(checks: Mapping[str, ReadinessCheck]) -> JSONResponse:
    details: dict[str, object] = {}
    reasons: list[str] = []
    for name, check in checks.items():
        details[name], reason = check()
        if reason is not None:
            reasons.append(reason)
    if reasons:
        body = {"status": "unavailable", "reason": "; ".join(reasons), **details}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ready", **details})


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(UndecryptableSecretError)
    async def undecryptable_secret(request: Request, _exc: UndecryptableSecretError) -> JSONResponse:
        # the key changed under a running server (`serve` refuses to start that way): no 500, and the
        # sender's retries succeed once the key is restored or the secrets are rekeyed
        log.error("source.secret_undecryptable", source=request.path_params.get("source"))
        return webhook_routes.refuse(
            503, "this source's signing secret cannot be decrypted by the server (HOTLOOP_SECRET_KEY "
            "changed); nothing was stored, retry later")

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid request"}
        return JSONResponse({"error": str(first.get("msg"))}, status_code=422)
