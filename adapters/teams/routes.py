"""`POST /api/messages`: the Bot Framework endpoint Microsoft Teams calls (PROTOCOLS §12–13).

    body ≤ max_body_bytes (413) → JSON object (400) → Activity → JWT check off the event loop (401, never
    a 500) → tenant served? (403, in every mode; adapters/teams/tenants.py) → CloudAdapter.process_activity
    → invoke response (its own status) or 200

Authentication is on whenever HOTLOOP_TEAMS_APP_ID is set. Without an app id the endpoint answers 503,
unless HOTLOOP_TEAMS_ALLOW_UNAUTHENTICATED=true (loopback tests only: anyone could act as anyone).
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from botbuilder.schema import Activity
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from adapters.http_body import BodyTooLargeError, read_limited
from adapters.teams.auth import (
    AuthError,
    AuthUnavailableError,
    authenticate,
    bot_config,
    build_adapter,
    warm_openid_metadata,
)
from adapters.teams.bot import HotloopTeamsBot
from adapters.teams.tenants import TenantPolicy, refusal_body
from adapters.teams.tokens import BotTokenProvider
from adapters.teams.translate import tenant_id
from adapters.teams.verified import VerifiedTokens
from bot.context import Context
from bot.settings import Settings
from storage.outage import is_database_outage

log = structlog.get_logger("hotloop.teams")

NOT_CONFIGURED = (
    "Microsoft Teams is not configured: set HOTLOOP_TEAMS_APP_ID and HOTLOOP_TEAMS_APP_PASSWORD "
    "(HOTLOOP_TEAMS_ALLOW_UNAUTHENTICATED=true is for loopback tests only)"
)
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Activity processed; invoke activities get their invoke response body"},
    400: {"description": "Not a JSON activity"},
    401: {"description": "Missing or invalid Bot Framework token"},
    403: {"description": "The activity comes from a tenant this bot does not serve; nothing was done"},
    413: {"description": "Body larger than the limit (256 KiB by default)"},
    503: {"description": "Teams is not configured, or the signing keys could not be fetched"},
}


def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


def _parse(raw: bytes) -> Activity:
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise ValueError("body is not JSON") from None
    if not isinstance(body, dict):
        raise ValueError("body is not a JSON object")
    try:
        activity = Activity().deserialize(body)
    except Exception:  # msrest raises its own DeserializationError family
        raise ValueError("body is not a Bot Framework activity") from None
    if not isinstance(activity, Activity) or not activity.type:
        raise ValueError("activity has no type")
    return activity


def _body(value: Any) -> Any:
    serialize = getattr(value, "serialize", None)
    if not callable(serialize):
        return value
    try:
        return serialize()
    except Exception:  # botbuilder's own error bodies may hold an Exception object
        return None


def _tenant_refused(tenants: TenantPolicy, activity: Activity) -> JSONResponse | None:
    """403 for an activity from a tenant this bot does not serve, before anything is read or written."""
    reason = tenants.refusal(activity)
    if reason is None:
        return None
    log.warning("teams.tenant_refused", activity_type=activity.type, reason=reason,
                tenant=(tenant_id(activity) or "")[:64])
    return JSONResponse(refusal_body(activity, reason), status_code=403)


class TeamsEndpoint:
    """Everything `POST /api/messages` needs, built once at mount: the adapter, the token check, the
    tenant policy and the one bot (its conversation-reference memo lives as long as the app)."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self.settings = settings
        self.config = bot_config(settings)
        self.enabled = self.config.authenticated or settings.teams_allow_unauthenticated
        self.adapter, self.auth = build_adapter(self.config)
        self.verified = VerifiedTokens()
        self.tenants = TenantPolicy.from_settings(settings)
        self.bot = HotloopTeamsBot(lambda: _ctx(app), token_provider=BotTokenProvider(self.config))

    async def handle(self, request: Request) -> Response:
        if not self.enabled:
            return _error(503, NOT_CONFIGURED)
        limit = self.settings.max_body_bytes
        try:
            activity = _parse(await read_limited(request, limit))
        except BodyTooLargeError:
            return _error(413, f"body larger than {limit} bytes")
        except ValueError as bad:
            return _error(400, str(bad))
        header = request.headers.get("authorization")
        try:
            result = await authenticate(
                self.auth, activity, header, required=self.config.authenticated, verified=self.verified
            )
        except AuthError as denied:
            log.warning("teams.unauthorized", reason=denied.reason, activity_type=activity.type)
            return _error(401, denied.reason)
        except AuthUnavailableError as unavailable:
            log.warning("teams.auth_unavailable", reason=str(unavailable))
            return _error(503, str(unavailable))
        if (refused := _tenant_refused(self.tenants, activity)) is not None:
            return refused
        return await self.process(result, activity)

    async def process(self, auth_result: Any, activity: Activity) -> Response:
        """Run the bot's turn; the invoke response (its own status) or a bare 200."""
        try:
            response = await self.adapter.process_activity(auth_result, activity, self.bot.on_turn)
        except Exception as error:
            if is_database_outage(error):
                raise  # adapters/http_guards.py answers 503 with Retry-After: Teams sends it again
            log.exception("teams.turn_failed", activity_type=activity.type, name=activity.name)
            return _error(500, "the bot failed to handle this activity")
        if response is None:
            return Response(status_code=200)
        status = int(response.status or 200)
        body = _body(response.body)
        if body is None:
            return Response(status_code=status)
        return JSONResponse(body, status_code=status)


def _ctx(app: FastAPI) -> Context:
    ctx: Context = app.state.ctx
    return ctx


def _announce(endpoint: TeamsEndpoint) -> None:
    """Say at start-up how activities are checked; fetch the token signing keys early."""
    config, settings, tenants = endpoint.config, endpoint.settings, endpoint.tenants
    if config.authenticated:
        if settings.teams_allow_unauthenticated:
            log.warning("teams.allow_unauthenticated_ignored", reason="an app id is set: tokens are checked")
        warm_openid_metadata(config)
    elif settings.teams_allow_unauthenticated:
        log.warning(
            "teams.UNAUTHENTICATED",
            message="POST /api/messages accepts activities WITHOUT checking any token: anyone who can reach "
            "it can act as any user. Use only on loopback for tests.",
            tenants="every tenant" if tenants.open else ",".join(sorted(tenants.tenants)),
        )


def mount_teams(app: FastAPI, settings: Settings) -> None:
    endpoint = TeamsEndpoint(app, settings)
    _announce(endpoint)

    @app.post(
        "/api/messages",
        tags=["teams"],
        summary="Microsoft Teams (Bot Framework) activities",
        responses=_RESPONSES,
    )
    async def messages(request: Request) -> Response:
        return await endpoint.handle(request)
