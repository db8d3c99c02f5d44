"""`create_app()`: the ASGI composition root. Mounts every route; the lifespan opens the database and
starts the workers for roles `worker`/`all`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI

from adapters import webhook_routes
from adapters.api_docs import mount_docs
from adapters.http_guards import RequestGuards
from adapters.mail.followup_routes import mount_follow_up
from adapters.mail.routes import mount_mail
from adapters.mail.smtp import build_mailer
from adapters.ops_routes import install_error_handlers, mount_ops
from adapters.slack.routes import mount_slack
from adapters.teams.routes import mount_teams
from adapters.web.figures_routes import mount_figures, start_preload
from adapters.web.queue_routes import mount_queue
from adapters.web.routes import mount_web
from bot.chat.port import Chat
from bot.context import Context
from bot.settings import Role, Settings
from hotloop.chats import build_chats
from jobs.runner import Workers

log = structlog.get_logger("hotloop.web")

ChatFactory = Callable[[Settings, Context], Mapping[str, Chat]]


async def _close_clients(app: FastAPI, mailer: Any) -> None:
    if mailer is not None:
        await mailer.aclose()
    for chat in app.state.chats.values():
        close = getattr(chat, "aclose", None)  # adapters that own an HTTP client
        if close is not None:
            await close()


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
        mailer = build_mailer(settings)  # None without HOTLOOP_SMTP_URL: no e-mail to customers
        workers = Workers(ctx, app.state.chats, mailer=mailer)
        app.state.workers = workers
        if role in (Role.WORKER, Role.ALL):
            workers.start()
        preload = start_preload(app) if role in (Role.WEB, Role.ALL) else None
        log.info("hotloop.started", role=role.value, database=ctx.engine.dialect.name,
                 chats=sorted(app.state.chats), mode=settings.mode.value)
        try:
            yield
        finally:
            if preload is not None:
                preload.cancel()
            await workers.stop()
            await _close_clients(app, mailer)
            await ctx.close()

    app = FastAPI(title="hotloop", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Survey webhooks in; hot alerts out to Slack and Microsoft Teams.")
    mount_docs(app)  # /docs without a CDN
    app.state.readiness_checks = {}
    webhook_routes.mount_webhooks(app)
    mount_ops(app)
    mount_mail(app)  # /u/<token>: one-click unsubscribe from customer e-mail
    mount_follow_up(app)  # /f/<token>: "did we fix it?", the customer's answer
    _mount_chat_routes(app, settings)
    mount_web(app)  # /app: the dashboard's sign-in, sessions, security headers, static files
    mount_queue(app)  # /app queue, /app/alerts/<KEY> pages and actions, /app/events live updates
    mount_figures(app)  # /app/figures charts, /app/charts/week.png (signed links for the digest)
    install_error_handlers(app)
    # outermost of hotloop's layers: a slow body → 408, an unreachable database → 503, on every route
    app.add_middleware(RequestGuards, body_timeout=settings.http_body_timeout_seconds)
    return app


def _mount_chat_routes(app: FastAPI, settings: Settings) -> None:
    mount_slack(app, settings)
    mount_teams(app, settings)
