"""`mount_slack(app, settings)`: Slack's HTTP endpoint and, with an app token, Socket Mode.

`POST /slack/events` takes everything Slack sends over HTTP (Events API, interactivity, slash
commands) and hands it to one Bolt `AsyncApp`; Bolt verifies the signature (401 when missing, wrong
or older than 5 minutes — nothing runs), answers `url_verification`, and returns the HTTP response
as soon as a listener calls `ack()` while the listener carries on (`process_before_response=False`).

The Bolt app is built when the server starts: `mount_slack` wraps the app's lifespan, so that once
`create_app`'s own lifespan has opened the Context (`app.state.ctx`), the Bolt app is built and,
when HOTLOOP_SLACK_APP_TOKEN is set, Socket Mode connects in the background
(`adapters/slack/socket_mode.py`: a fresh URL for every attempt, backoff, state in `/readyz` and
`/metrics`); it disconnects before the Context closes. `app.state.slack` is the `SlackRuntime`.

Without a bot token the endpoint answers 503 with what to configure.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.http_body import BodyTooLargeError, read_limited
from adapters.slack.install import RequestGate, SlackInstallation, make_authorize
from adapters.slack.listeners import register
from adapters.slack.socket_mode import SocketModeRunner
from bot.context import Context
from bot.settings import Settings

log = structlog.get_logger("hotloop.slack")

NOT_CONFIGURED = "Slack is not configured: set HOTLOOP_SLACK_BOT_TOKEN and HOTLOOP_SLACK_SIGNING_SECRET"
NOT_STARTED = "Slack is starting; try again in a moment"


class SlackRuntime:
    """Holds the Bolt app (built at startup) and the optional Socket Mode connection."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.bolt: AsyncApp | None = None
        self.installation: SlackInstallation | None = None  # built with the Bolt app
        self._warm: asyncio.Task[None] | None = None
        self.socket: SocketModeRunner | None = None  # while running, when HOTLOOP_SLACK_APP_TOKEN is set

    def context(self) -> Context:
        """The running Context, resolved when a listener needs it."""
        ctx: Context = self.app.state.ctx
        return ctx

    def build(self) -> AsyncApp:
        token = self.settings.slack_bot_token.get_secret_value()
        self.installation = SlackInstallation(
            AsyncWebClient(token=token, base_url=self.settings.slack_api_url),
            team_id=self.settings.slack_team_id,
            app_id=self.settings.slack_app_id,
        )
        # the client carries no token: `authorize` hands each request the bot token with the install
        # learned once (adapters/slack/install.py), so no request calls auth.test; `before_authorize`
        # refuses unreadable payloads, other workspaces and other apps before anything runs
        bolt = AsyncApp(
            client=AsyncWebClient(base_url=self.settings.slack_api_url),
            signing_secret=self.settings.slack_signing_secret.get_secret_value(),
            process_before_response=False,
            name="hotloop",
            authorize=make_authorize(self.installation, token),
            before_authorize=RequestGate(self.installation),
        )
        register(bolt, self.context)
        return bolt

    async def start(self) -> None:
        if self.bolt is None:
            self.bolt = self.build()
        if self.installation is not None and self._warm is None:  # auth.test once, in the background
            self._warm = asyncio.create_task(self.installation.warm(), name="slack-install")
        app_token = self.settings.slack_app_token.get_secret_value()
        if app_token and self.socket is None:
            # connects in the background, once the install is learned (the same single flight as
            # `_warm`): a Slack outage never stops the server, and no envelope waits on auth.test
            learn = self.installation.get if self.installation is not None else None
            self.socket = SocketModeRunner(self.bolt, app_token, authorize=learn)
            self.socket.start()

    async def stop(self) -> None:
        if self._warm is not None:
            self._warm.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warm
            self._warm = None
        if self.socket is not None:
            try:
                await self.socket.stop()
            except Exception as exc:  # closing must never block shutdown
                log.warning("slack.socket_mode_close_failed", error=type(exc).__name__)
            self.socket = None

    def socket_mode_readiness(self) -> tuple[dict[str, object], str | None]:
        """For /readyz: the Socket Mode state, and why Slack cannot reach us (None: it can)."""
        if self.socket is None:
            return {"state": "stopped"}, None
        return self.socket.readiness()

    async def handle(self, request: Request) -> Response:
        if self.bolt is None:
            return JSONResponse({"error": NOT_STARTED}, status_code=503)
        limit = self.settings.max_body_bytes
        try:
            body = await read_limited(request, limit)
        except BodyTooLargeError:
            return JSONResponse({"error": f"body larger than {limit} bytes"}, status_code=413)
        # slack_sdk's verifier would raise (a 500) on int(): "²".isdigit() is True, and Bolt reads the
        # last of several timestamp headers, so every one is checked
        for timestamp in request.headers.getlist("x-slack-request-timestamp"):
            if not (timestamp.isascii() and timestamp.isdigit()):
                return JSONResponse({"error": "invalid request"}, status_code=401)
        try:  # Bolt parses the body before it checks the signature: bad UTF-8/JSON, 10,000-deep nesting…
            bolt_request = to_async_bolt_request(request, body)
        except Exception:  # …or a JSON array raise here: a 400, never a 500
            return JSONResponse({"error": "body is not a Slack request"}, status_code=400)
        response = await self.bolt.async_dispatch(bolt_request)
        return to_starlette_response(response)


def _wrap_lifespan(app: FastAPI, runtime: SlackRuntime) -> None:
    """Run `runtime.start()` after the app's own lifespan has started, and `stop()` before it ends."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(asgi_app: Any) -> AsyncIterator[Any]:
        async with inner(asgi_app) as state:
            await runtime.start()
            try:
                yield state
            finally:
                await runtime.stop()

    app.router.lifespan_context = lifespan


def mount_slack(app: FastAPI, settings: Settings) -> None:
    if not settings.slack_enabled:

        @app.post("/slack/events", include_in_schema=False)
        async def slack_not_configured() -> JSONResponse:
            return JSONResponse({"error": NOT_CONFIGURED}, status_code=503)

        return

    runtime = SlackRuntime(app, settings)
    app.state.slack = runtime
    if settings.slack_app_token.get_secret_value():
        app.state.readiness_checks["slack_socket_mode"] = runtime.socket_mode_readiness
    _wrap_lifespan(app, runtime)

    @app.post("/slack/events", tags=["slack"], summary="Slack Events API, interactivity and slash commands")
    async def slack_events(request: Request) -> Response:
        return await runtime.handle(request)
