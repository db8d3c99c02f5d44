"""Optional sign-in with OpenID Connect (Microsoft Entra ID, Slack, another provider), through authlib.

On when HOTLOOP_OIDC_ISSUER, _CLIENT_ID and _CLIENT_SECRET are set (bot/settings.py refuses one without
the others). The authorization-code flow with PKCE (S256), a nonce and a state:

    GET /app/login/oidc            302 → the provider's authorization endpoint (from its discovery
                                   document, whose `issuer` must be HOTLOOP_OIDC_ISSUER); the state,
                                   nonce and PKCE verifier ride in the `hotloop_oidc` cookie (HMAC-signed,
                                   HttpOnly, SameSite=Lax, Path=/app/login/oidc, ten minutes)
    GET /app/login/oidc/callback   code → tokens at the token endpoint; the ID token is checked by authlib
                                   against the provider's JWKS: signature, `iss`, `aud` = our client id,
                                   `exp`, and the nonce; then the account → a chat user
                                   (`bot.web.users.identity_from_claims`) → the same session as a chat link

A state or nonce that does not match, a token for another audience, a provider error → 403 and no
session; an account that is no hotloop user (another Slack workspace, another Entra tenant, an e-mail
nobody listed) → 403 with the reason; the provider unreachable or misconfigured → 502. The client secret
and the tokens are never logged. The Redirect URI to register with the provider is
<HOTLOOP_PUBLIC_URL>/app/login/oidc/callback; for Entra use the tenant's issuer
(https://login.microsoftonline.com/<tenant id>/v2.0), not /common.

authlib's Starlette client keeps its flow state in `request.session`; instead of a session middleware
for the whole app, these two routes give it a dict read from and written to their own signed cookie.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from joserfc.errors import JoseError

from adapters.web.authlib_compat import HTTP_ERRORS, MismatchingStateError, OAuth, OAuthError
from adapters.web.session import web_now
from adapters.web.signin_pages import NO_REFERRER, SIGN_IN_HINT, message, secure_cookie, signed_in, throttled
from bot.crypto import purpose_key
from bot.settings import Settings
from bot.web.sessions import start_session
from bot.web.users import AccountRefused, ChatIdentity, email_users, identity_from_claims

log = structlog.get_logger("hotloop.web")

START_PATH = "/app/login/oidc"
CALLBACK_PATH = "/app/login/oidc/callback"
FLOW_COOKIE = "hotloop_oidc"
FLOW_SECONDS = 600
MAX_FLOW_COOKIE = 4096
SCOPES = "openid email profile"
CLIENT_NAME = "hotloop"
PROVIDER_TIMEOUT_SECONDS = 10.0



class ProviderMisconfigured(Exception):
    """The discovery document names another issuer than HOTLOOP_OIDC_ISSUER."""


# the provider cannot be used: unreachable, an answer that is not JSON, a discovery document without
# what it must hold
START_FAILURES: tuple[type[Exception], ...] = (*HTTP_ERRORS, ProviderMisconfigured, ValueError, KeyError,
                                               RuntimeError)
CALLBACK_FAILURES: tuple[type[Exception], ...] = (*HTTP_ERRORS, ProviderMisconfigured, KeyError, RuntimeError)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class OidcLogin:
    """The provider client (authlib) and what the callback checks, built once from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.redirect_uri = settings.public_url.rstrip("/") + CALLBACK_PATH
        self.emails = email_users(settings.oidc_email_users)
        self.teams_tenants = settings.teams_tenants
        self.slack_team = settings.slack_team_id.strip()
        self._key = purpose_key(settings, "web-oidc")
        self.client: Any = OAuth().register(
            name=CLIENT_NAME,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret.get_secret_value(),
            server_metadata_url=self.issuer + "/.well-known/openid-configuration",
            client_kwargs={"scope": SCOPES, "code_challenge_method": "S256",
                           "timeout": PROVIDER_TIMEOUT_SECONDS},
        )

    async def metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = await self.client.load_server_metadata()
        if str(metadata.get("issuer", "")).rstrip("/") != self.issuer:
            raise ProviderMisconfigured
        return metadata

    def claims_options(self, metadata: dict[str, Any]) -> dict[str, Any]:
        # authlib checks `aud` only through `azp` by default: name our client id as the one audience
        return {"iss": {"essential": True, "values": [metadata["issuer"]]},
                "aud": {"essential": True, "values": [self.client_id]}}

    def seal(self, flow: dict[str, Any], *, now: float) -> str:
        body = _b64(json.dumps({"exp": now + FLOW_SECONDS, "flow": flow}, separators=(",", ":")).encode())
        return f"{body}.{self._mac(body)}"

    def unseal(self, cookie: str, *, now: float) -> dict[str, Any]:
        """The flow state of a cookie we signed that has not expired; else {} (→ a state mismatch)."""
        body, _, mac = cookie.partition(".")
        if not body or len(cookie) > MAX_FLOW_COOKIE or not hmac.compare_digest(mac, self._mac(body)):
            return {}
        try:
            sealed = json.loads(_unb64(body))
        except (binascii.Error, ValueError):
            return {}
        if not isinstance(sealed, dict):
            return {}
        flow, expires = sealed.get("flow"), sealed.get("exp")
        if not isinstance(flow, dict) or not isinstance(expires, int | float) or expires < now:
            return {}
        return flow

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())


def oidc_login(request: Request) -> OidcLogin | None:
    settings: Settings = request.app.state.ctx.settings
    if not settings.oidc_enabled:
        return None
    login: OidcLogin | None = getattr(request.app.state, "web_oidc", None)
    if login is None:
        login = request.app.state.web_oidc = OidcLogin(settings)
    return login


async def slack_workspaces(request: Request, login: OidcLogin) -> frozenset[str]:
    """The Slack workspace (or org) hotloop serves: HOTLOOP_SLACK_TEAM_ID, else the install it learned."""
    if login.slack_team:
        return frozenset({login.slack_team})
    installation = getattr(getattr(request.app.state, "slack", None), "installation", None)
    if installation is None:
        return frozenset()
    try:
        install = await installation.get()
    except Exception:  # Slack unreachable: no workspace known, Slack accounts are refused this time
        return frozenset()
    ids = {install.enterprise_id if install.enterprise_install else install.team_id}
    return frozenset(i for i in ids if i)


def _refused(request: Request, heading: str, why: str, *, status: int = 403) -> HTMLResponse:
    response = message(request, status=status, heading=heading, lines=[why, SIGN_IN_HINT], tone="error",
                       headers=NO_REFERRER)
    response.delete_cookie(FLOW_COOKIE, path=START_PATH)
    return response


def _unavailable(request: Request) -> HTMLResponse:
    return _refused(request, "The sign-in provider is unavailable",
                    "hotloop could not reach it, or its configuration does not match HOTLOOP_OIDC_ISSUER. "
                    "Try again later.", status=502)


async def _start(request: Request, login: OidcLogin) -> Response:
    request.scope["session"] = {}  # authlib writes the state, nonce and PKCE verifier here
    try:
        await login.metadata()
        redirect = await login.client.authorize_redirect(request, login.redirect_uri)
    except START_FAILURES as exc:
        log.warning("web.oidc_unavailable", error=type(exc).__name__)
        return _unavailable(request)
    flow = {key: {**value, "data": {k: v for k, v in value.get("data", {}).items() if k != "url"}}
            for key, value in request.scope["session"].items()}
    response = RedirectResponse(redirect.headers["location"], status_code=302, headers=NO_REFERRER)
    response.set_cookie(FLOW_COOKIE, login.seal(flow, now=web_now(request).timestamp()), max_age=FLOW_SECONDS,
                        path=START_PATH, httponly=True, samesite="lax", secure=secure_cookie(request))
    return response


async def _verified_claims(request: Request, login: OidcLogin) -> dict[str, Any] | HTMLResponse:
    """The ID token's claims once authlib checked them, or the page that says why not."""
    request.scope["session"] = login.unseal(request.cookies.get(FLOW_COOKIE, ""),
                                            now=web_now(request).timestamp())
    try:
        metadata = await login.metadata()
        token = await login.client.authorize_access_token(
            request, claims_options=login.claims_options(metadata))
    except MismatchingStateError:
        return _refused(request, "This sign-in could not be finished",
                        "It did not start in this browser, or it took more than ten minutes. Start again.")
    except OAuthError as exc:
        return _refused(request, "The sign-in provider refused",
                        f"It answered: {str(exc.error or 'error')[:64]}. Nothing was signed in.")
    except (JoseError, ValueError) as exc:
        log.info("web.oidc_refused", why=type(exc).__name__)
        return _refused(request, "The sign-in could not be verified",
                        "The provider's answer was not meant for this hotloop, or did not match this "
                        "sign-in. Nothing was signed in.")
    except CALLBACK_FAILURES as exc:
        log.warning("web.oidc_unavailable", error=type(exc).__name__)
        return _unavailable(request)
    claims = token.get("userinfo") if isinstance(token, dict) else None
    if not claims:
        return _refused(request, "The sign-in could not be verified", "The provider sent no ID token.")
    return dict(claims)


async def _callback(request: Request, login: OidcLogin) -> Response:
    claims = await _verified_claims(request, login)
    if isinstance(claims, HTMLResponse):
        return claims
    try:
        who: ChatIdentity = identity_from_claims(
            claims, slack_workspaces=await slack_workspaces(request, login),
            teams_tenants=login.teams_tenants, emails=login.emails)
    except AccountRefused as exc:
        log.info("web.oidc_unknown_account")
        return _refused(request, "This account cannot sign in to hotloop", exc.reason)
    opened = await start_session(request.app.state.ctx.sessions, platform=who.platform, user_id=who.user_id,
                                 user_name=who.name, teams=(), now=web_now(request))
    log.info("web.signed_in", method="oidc", platform=who.platform)
    response = signed_in(request, opened)
    response.delete_cookie(FLOW_COOKIE, path=START_PATH)
    return response


def mount_oidc(app: FastAPI) -> None:
    """Mount before /app/login/{token}: "oidc" is not a link token."""

    @app.get(START_PATH, include_in_schema=False)
    async def oidc_start(request: Request) -> Response:
        return await _guarded(request, _start)

    @app.get(CALLBACK_PATH, include_in_schema=False)
    async def oidc_callback(request: Request) -> Response:
        return await _guarded(request, _callback)


async def _guarded(request: Request, step: Callable[[Request, OidcLogin], Awaitable[Response]]) -> Response:
    """`step` when sign-in with an organisation account is on (404 otherwise) and not throttled."""
    login = oidc_login(request)
    if login is None:
        return message(request, status=404, heading="Sign-in with an organisation account is off",
                       lines=[SIGN_IN_HINT], tone="error")
    if (busy := throttled(request)) is not None:
        return busy
    return await step(request, login)
