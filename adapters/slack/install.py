"""The one Slack workspace and app hotloop serves, learned once, and the gate that refuses the rest.

A valid signature proves a request was signed with this app's signing secret; it does not say which
workspace it came from when the app is installed in more than one (PROTOCOLS "Slack workspaces").
So every command, click, form and event is checked against the install before Bolt authorizes it:

    start-up          auth.test → team_id, enterprise_id, bot ids; bots.info(bot_id) → app_id
                      (HOTLOOP_SLACK_TEAM_ID / HOTLOOP_SLACK_APP_ID, when set, win)
    before_authorize  `RequestGate`: a payload Bolt cannot read → 400; another team_id (or organization,
                      for an org-wide install) or another api_app_id → refused before anything is read
                      or written
    authorize         the one cached AuthorizeResult: no auth.test per request, even for a burst of
                      Socket Mode envelopes right after a start (Bolt's default calls auth.test on
                      every request until its first answer is cached)

Refusals: a slash command gets an ephemeral text (Slack shows it to the user); a click or form a 403
with the reason; an event 200 with nothing done (Slack retries other answers, and disables the
event subscription of an app whose URL keeps failing — for the real workspace too).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.translate import malformed

log = structlog.get_logger("hotloop.slack")

OTHER_WORKSPACE = "This hotloop is not installed in this Slack workspace; nothing was done."
OTHER_APP = "This request is for another Slack app; nothing was done."
NOT_VERIFIED = "hotloop could not confirm its Slack installation yet (auth.test failed); try again shortly."
NO_CHECK_TYPES = frozenset({"url_verification", "ssl_check"})  # Bolt answers these itself

Authorize = Callable[..., Awaitable[AuthorizeResult]]


@dataclass(frozen=True)
class Install:
    team_id: str | None
    enterprise_id: str | None
    enterprise_install: bool  # an org-wide (Enterprise Grid) install: requests are checked by org
    app_id: str | None  # None when bots.info would not say and HOTLOOP_SLACK_APP_ID is unset
    bot_id: str | None
    bot_user_id: str | None


class SlackInstallation:
    """Learns the install once (single flight; a failure is retried by the next request)."""

    def __init__(self, client: AsyncWebClient, *, team_id: str = "", app_id: str = "") -> None:
        self.client = client
        self.configured_team = team_id.strip() or None
        self.configured_app = app_id.strip() or None
        self._install: Install | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Install:
        if self._install is not None:
            return self._install
        async with self._lock:
            if self._install is None:
                self._install = await self._learn()
        return self._install

    async def warm(self) -> None:
        """At start-up: learn now so no request waits for it; a failure is logged, not fatal."""
        try:
            install = await self.get()
        except Exception as exc:  # Slack unreachable, a revoked token…: the next request tries again
            log.warning("slack.install_unknown", error=_error(exc))
            return
        log.info("slack.install", team=install.team_id, enterprise=install.enterprise_id,
                 org_wide=install.enterprise_install, app=install.app_id)

    async def _learn(self) -> Install:
        auth = (await self.client.auth_test()).data
        assert isinstance(auth, dict)
        bot_id = _text(auth.get("bot_id"))
        app_id = self.configured_app or await self._app_id(bot_id)
        team_id = self.configured_team or _text(auth.get("team_id"))
        if self.configured_team and self.configured_team != auth.get("team_id"):
            # the configured workspace wins: requests from the token's workspace will be refused
            log.error("slack.install_team_mismatch", configured=self.configured_team,
                      token_team=auth.get("team_id"))
        return Install(
            team_id=team_id,
            enterprise_id=_text(auth.get("enterprise_id")),
            enterprise_install=auth.get("is_enterprise_install") is True,
            app_id=app_id,
            bot_id=bot_id,
            bot_user_id=_text(auth.get("user_id")),
        )

    async def _app_id(self, bot_id: str | None) -> str | None:
        if not bot_id:
            return None
        try:
            bot = (await self.client.bots_info(bot=bot_id)).get("bot") or {}
        except (SlackApiError, SlackClientError) as exc:
            log.warning("slack.app_id_unknown", error=_error(exc),
                        hint="api_app_id is not checked: set HOTLOOP_SLACK_APP_ID")
            return None
        return _text(bot.get("app_id"))

    def refusal(self, install: Install, body: Mapping[str, Any], context: AsyncBoltContext) -> str | None:
        """Why a request is refused, or None when it is for this workspace (or org) and app."""
        app = body.get("api_app_id")
        if install.app_id and app is not None and app != install.app_id:
            return OTHER_APP
        if install.enterprise_install:
            return None if context.enterprise_id == install.enterprise_id else OTHER_WORKSPACE
        if context.is_enterprise_install:  # an org-wide request for a one-workspace install
            return OTHER_WORKSPACE
        return None if context.team_id and context.team_id == install.team_id else OTHER_WORKSPACE


def _text(value: object) -> str | None:
    return str(value) if value else None


def _error(exc: BaseException) -> str:
    data = getattr(getattr(exc, "response", None), "data", None)
    return str(data.get("error")) if isinstance(data, dict) else type(exc).__name__


def _refused(body: Mapping[str, Any], reason: str) -> BoltResponse:
    if body.get("type") == "event_callback" or "event" in body:
        return BoltResponse(status=200, body="")
    if "command" in body:  # Slack shows a slash command's answer to whoever typed it
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": reason})
    return BoltResponse(status=403, body={"error": reason})


class RequestGate(AsyncMiddleware):
    """Bolt's `before_authorize`: the first thing after the signature check, on HTTP and Socket Mode.

    A class, not a function: Bolt builds every function middleware's arguments from the payload
    (`body["actions"][0]`…), which raises — a 500 — on a payload it cannot read. So the payload's
    shape is checked here first (400 with the reason), then its workspace and app."""

    def __init__(self, installation: SlackInstallation) -> None:
        self.installation = installation

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse:
        body = req.body if isinstance(req.body, dict) else {}
        bad = malformed(body) if isinstance(req.body, dict) else "the payload is not a JSON object"
        if bad is not None:
            log.info("slack.malformed", reason=bad)
            return BoltResponse(status=400, body={"error": bad})
        if body.get("type") in NO_CHECK_TYPES:
            return await next()
        try:
            install = await self.installation.get()
        except Exception as exc:  # unknown install: refuse rather than serve strangers (fail closed)
            log.warning("slack.install_unknown", error=_error(exc))
            return BoltResponse(status=503, body={"error": NOT_VERIFIED})
        context = req.context
        reason = self.installation.refusal(install, body, context)
        if reason is None:
            return await next()
        log.warning("slack.request_refused", reason=reason, team=context.team_id, kind=body.get("type"),
                    enterprise=context.enterprise_id, app=str(body.get("api_app_id"))[:32])
        return _refused(body, reason)


def make_authorize(installation: SlackInstallation, token: str) -> Authorize:
    """Bolt `authorize`: the install's one result, learned once (never an auth.test per request)."""

    async def authorize(
        enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        install = await installation.get()
        return AuthorizeResult(
            enterprise_id=install.enterprise_id,
            team_id=install.team_id,
            bot_id=install.bot_id,
            bot_user_id=install.bot_user_id,
            bot_token=token,
            user_id=user_id,
        )

    return authorize
