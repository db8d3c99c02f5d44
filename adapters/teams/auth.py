"""Bot Framework authentication for `POST /api/messages` (botbuilder 4.17, no aiohttp integration).

`ConfigurationBotFrameworkAuthentication` and `CloudAdapter` live in `botbuilder-integration-aiohttp`,
which hotloop does not install; `configuration_authentication(config)` below and `CloudAdapter`
(adapters/teams/adapter.py) are their equivalents over `botbuilder-core`/`botframework-connector`.
Two differences, both on purpose:

* The parameterised (explicit) configuration is always used, with the public-cloud constants filled
  in. Upstream passes `None` for every value not in the config, so setting only
  `TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL` leaves the token issuer `None` and rejects every token.
  Tests and production therefore run the same code; only the metadata URL differs.
* Tokens are checked in a worker thread (`authenticate`): botbuilder refreshes the OpenID keys with a
  blocking `requests.get` (no timeout) inside `async` code (PROTOCOLS §13). A token checked for an
  activity's channel and serviceUrl is not checked again for them until it expires
  (adapters/teams/verified.py).

Every failure to authenticate becomes `AuthError` (→ 401): botbuilder raises `PermissionError`, but an
unknown `kid` raises `IndexError`, a missing header `AttributeError`, PyJWT its own errors…
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

import jwt
import structlog
from botbuilder.core import BotAdapter
from botbuilder.schema import Activity, CallerIdConstants
from botframework.connector.auth import (
    AuthenticationConfiguration,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    BotFrameworkAuthenticationFactory,
    PasswordServiceClientCredentialFactory,
    ServiceClientCredentialsFactory,
)
from botframework.connector.auth.authenticate_request_result import AuthenticateRequestResult
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor
from botframework.connector.auth.managedidentity_service_client_credential_factory import (
    ManagedIdentityServiceClientCredentialsFactory,
)

from adapters.teams.adapter import CloudAdapter
from adapters.teams.verified import VerifiedTokens, cache_key
from bot.settings import Settings

log = structlog.get_logger("hotloop.teams.auth")

CHANNEL_ISSUER = AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER  # https://api.botframework.com
AUTH_TIMEOUT_SECONDS = 15.0


class AuthError(Exception):
    """The request is not from the Bot Framework for this bot: answer 401 with `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AuthUnavailableError(Exception):
    """The signing keys could not be fetched in time: answer 503 so the channel retries."""


@dataclass(frozen=True)
class BotConfig:
    """The attribute names botbuilder's configuration classes read."""

    APP_ID: str
    APP_PASSWORD: str
    APP_TYPE: str = "MultiTenant"
    APP_TENANTID: str = ""
    TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL: str = ""

    @property
    def authenticated(self) -> bool:
        return bool(self.APP_ID)

    @property
    def metadata_url(self) -> str:
        return (
            self.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
            or AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
        )


def bot_config(settings: Settings) -> BotConfig:
    return BotConfig(
        APP_ID=settings.teams_app_id,
        APP_PASSWORD=settings.teams_app_password.get_secret_value(),
        APP_TYPE=settings.teams_app_type or "MultiTenant",
        APP_TENANTID=settings.teams_tenant_id,
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=settings.teams_openid_metadata_url,
    )


def credential_factory(config: BotConfig) -> ServiceClientCredentialsFactory:
    kind = config.APP_TYPE.lower()
    if kind == "userassignedmsi":
        return ManagedIdentityServiceClientCredentialsFactory(config.APP_ID)
    tenant = config.APP_TENANTID if kind == "singletenant" else None
    return PasswordServiceClientCredentialFactory(config.APP_ID, config.APP_PASSWORD, tenant)


def configuration_authentication(config: BotConfig) -> BotFrameworkAuthentication:
    """What `ConfigurationBotFrameworkAuthentication(config)` builds, with public-cloud defaults."""
    auth: BotFrameworkAuthentication = BotFrameworkAuthenticationFactory.create(
        validate_authority=True,
        to_channel_from_bot_login_url=AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX,
        to_channel_from_bot_oauth_scope=AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
        to_bot_from_channel_token_issuer=CHANNEL_ISSUER,
        oauth_url=AuthenticationConstants.OAUTH_URL,
        to_bot_from_channel_open_id_metadata_url=config.metadata_url,
        to_bot_from_emulator_open_id_metadata_url=AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
        caller_id=CallerIdConstants.public_azure_channel,
        credential_factory=credential_factory(config),
        auth_configuration=AuthenticationConfiguration(),
    )
    return auth


def build_adapter(config: BotConfig) -> tuple[BotAdapter, BotFrameworkAuthentication]:
    auth = configuration_authentication(config)
    return CloudAdapter(auth), auth


def _bearer(header: str | None) -> str:
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme != "Bearer" or not token.strip():
        raise AuthError("missing or malformed Authorization header (expected 'Bearer <token>')")
    return token.strip()


def precheck(header: str | None) -> str:
    """Cheap checks before botbuilder: a bearer JWT from the Bot Framework channel issuer; the token.

    Teams only sends channel tokens; refusing emulator/skill issuers here also keeps strangers from
    making the server fetch other key sets."""
    token = _bearer(header)
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise AuthError(f"malformed token: {type(exc).__name__}") from None
    if claims.get("iss") != CHANNEL_ISSUER:
        raise AuthError("token issuer is not the Bot Framework channel")
    return token


def _reason(exc: BaseException) -> str:
    if isinstance(exc, PermissionError):
        return f"unauthorized: {exc}"[:200]
    if isinstance(exc, IndexError | KeyError):
        return "unknown token signing key"
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "token expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "token not yet valid"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "invalid token signature"
    if isinstance(exc, jwt.PyJWTError):
        return f"invalid token: {type(exc).__name__}"
    if str(exc).startswith("Could not validate endorsement"):
        return "signing key not endorsed for this channel"
    return f"token not accepted ({type(exc).__name__})"


def _authenticate_blocking(
    auth: BotFrameworkAuthentication, activity: Activity, header: str | None
) -> AuthenticateRequestResult:
    result: AuthenticateRequestResult = asyncio.run(auth.authenticate_request(activity, header))
    return result


async def authenticate(
    auth: BotFrameworkAuthentication,
    activity: Activity,
    header: str | None,
    *,
    required: bool,
    verified: VerifiedTokens | None = None,
) -> AuthenticateRequestResult:
    """Validate the inbound token off the event loop, once per token, channel and serviceUrl while the
    token lasts (`verified`, adapters/teams/verified.py). `required=False` (no app id): no token."""
    if not required:
        return await _anonymous(auth, activity)
    token = precheck(header)
    if verified is None:
        return await _check_token(auth, activity, header)
    key = cache_key(token, activity.channel_id, activity.service_url)
    return await verified.check(key, lambda: _check_token(auth, activity, header))


async def _check_token(
    auth: BotFrameworkAuthentication, activity: Activity, header: str | None
) -> AuthenticateRequestResult:
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(_authenticate_blocking, auth, activity, header), timeout=AUTH_TIMEOUT_SECONDS
        )
    except TimeoutError:
        raise AuthUnavailableError("could not check the token in time") from None
    except Exception as exc:  # every way botbuilder says "no" must be a 401, never a 500
        raise AuthError(_reason(exc)) from None


async def _anonymous(auth: BotFrameworkAuthentication, activity: Activity) -> AuthenticateRequestResult:
    """No app id: botbuilder's anonymous identity. Nothing to fetch or verify, so no worker thread and
    no event loop of its own per request (both cost more than the turn under a burst)."""
    try:
        result: AuthenticateRequestResult = await auth.authenticate_request(activity, None)
    except Exception as exc:  # e.g. a managed-identity app type without an app id: still a 401
        raise AuthError(_reason(exc)) from None
    return result


def _warm(url: str) -> None:
    metadata: Any = JwtTokenExtractor.get_open_id_metadata(url)
    try:
        asyncio.run(metadata._refresh())
    except Exception as exc:  # logged, not fatal: the first request retries the fetch
        log.warning("teams.openid_warmup_failed", url=url, error=type(exc).__name__)
    else:
        log.info("teams.openid_keys_loaded", url=url, keys=len(metadata.keys))


def warm_openid_metadata(config: BotConfig) -> threading.Thread:
    """Fetch the channel's signing keys in a daemon thread so the first request does not wait."""
    thread = threading.Thread(
        target=_warm, args=(config.metadata_url,), name="teams-openid-warmup", daemon=True
    )
    thread.start()
    return thread
