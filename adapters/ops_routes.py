"""The operations endpoints and the JSON error answers every route shares."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters import webhook_routes
from bot.context import Context
from bot.crypto import UndecryptableSecretError
from bot.health import database_problem, pending_outbox
from bot.telemetry import OUTBOX_DEPTH

log = structlog.get_logger("hotloop.web")

# name → () -> (details shown in /readyz, why not ready or None); adapters add theirs (Slack Socket Mode)
ReadinessCheck = Callable[[], tuple[dict[str, object], str | None]]


def mount_ops(app: FastAPI) -> None:
    """`/healthz`, `/readyz` (the database and every check in `app.state.readiness_checks`), `/metrics`."""
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


def install_error_handlers(app: FastAPI) -> None:
    """Every refusal as `{"error": reason}` with its status; never a 500 for bad input."""
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
