"""Settings from the environment (prefix HOTLOOP_), built by `build_settings()` — never at import.

A `.env` file in the working directory (written by `hotloop init`) is read too; real environment
variables win over it.

`build_settings()` fails closed: outside `demo` mode a placeholder secret or an unauthenticated
Teams endpoint with an app id is refused with a clear message.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.durations import DurationError, parse_duration
from bot.identity import IdentityError, parse_identity

PLACEHOLDER_SECRETS = frozenset(
    {
        "", "changeme", "change-me", "secret", "password", "placeholder", "xxx", "test", "demo", "todo",
        "replace-me",
    }
)
DEFAULT_ALARMING_WORDS = (
    "cancel", "cancelling", "canceling", "refund", "lawyer", "attorney", "sue", "legal action",
    "never again", "rude", "unsafe", "dangerous", "injury", "injured", "food poisoning", "discriminat",
    "harass", "fraud", "scam", "worst", "disgusting", "complaint", "ombudsman",
    # a few frequent ones in other languages (fr, de, es, nl, pt)
    "rembourse", "avocat", "jamais plus", "kündig", "anwalt", "nie wieder", "reembolso", "abogado",
    "nunca más", "opzeggen", "advocaat", "nooit meer", "cancelar", "advogado",
)


class Mode(StrEnum):
    PRODUCTION = "production"
    DEMO = "demo"
    TEST = "test"


class Role(StrEnum):
    WEB = "web"
    WORKER = "worker"
    ALL = "all"


class SettingsError(ValueError):
    """The environment does not describe a safe configuration."""


ENV_FILE = ".env"  # relative: read from the working directory of every command
MIN_SECRET_KEY_LENGTH = 16


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HOTLOOP_", env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    mode: Mode = Mode.PRODUCTION
    database_url: str = ""
    secret_key: SecretStr = SecretStr("")
    public_url: str = ""  # e.g. https://hotloop.example.com; unset, only webhook paths are printed
    log_level: str = "info"
    log_json: bool = True

    admins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    default_team: str = "support"
    alarming_words: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_ALARMING_WORDS)
    )

    max_body_bytes: int = 256 * 1024
    signature_tolerance_seconds: int = 300
    # slow clients: the request line and headers, then the whole body, must arrive within these
    http_header_timeout_seconds: float = 10.0
    http_body_timeout_seconds: float = 30.0
    http_max_connections: int = 1000  # past it new requests get 503; past twice it a connection is closed
    http_shutdown_timeout_seconds: float = 10.0  # on SIGTERM, requests still running after this are cancelled

    delivery_poll_seconds: float = 1.0
    delivery_batch: int = 250
    delivery_max_attempts: int = 12
    sla_sweep_seconds: float = 5.0
    sla_sweep_batch: int = 500
    sla_heads_up_fraction: float = 0.75  # a heads-up in the thread when this much of the window has passed
    sla_nag_seconds: int = 1800  # after a breach, nag again this often…
    sla_nag_cap: int = 3  # …this many times
    sla_quiet_hours: str | None = None  # e.g. "22:00-07:00": nags wait until the end of quiet hours
    sla_quiet_timezone: str | None = None  # default: the team's business-hours zone, else UTC
    digest_hour: int = 9  # daily digest, local hour in the team's time zone

    slack_bot_token: SecretStr = SecretStr("")
    slack_signing_secret: SecretStr = SecretStr("")
    slack_app_token: SecretStr = SecretStr("")
    slack_api_url: str = "https://slack.com/api/"
    # the workspace (or Enterprise Grid org) and app this hotloop serves; learned from auth.test and
    # bots.info at start when empty. Requests from any other workspace or app are refused.
    slack_team_id: str = ""
    slack_app_id: str = ""

    teams_app_id: str = ""
    teams_app_password: SecretStr = SecretStr("")
    teams_tenant_id: str = ""
    # more tenants a multi-tenant bot serves (comma-separated ids; "*" = every tenant, on purpose)
    teams_allowed_tenants: Annotated[list[str], NoDecode] = Field(default_factory=list)
    teams_app_type: str = "MultiTenant"
    teams_allow_unauthenticated: bool = False
    teams_openid_metadata_url: str = ""

    # optional dashboard sign-in with OpenID Connect (adapters/web/oidc.py: Entra ID, Slack or another
    # provider), on when all three are set; the account must map to a chat user (bot/web/users.py)
    oidc_issuer: str = ""  # e.g. https://login.microsoftonline.com/<tenant id>/v2.0 or https://slack.com
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr = SecretStr("")
    # providers without Slack or Entra ids: verified e-mail → chat user, "ana@acme.example=slack:U0ANA"
    oidc_email_users: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # e-mail to customers (bot/mail, adapters/mail): smtp://[user:password@]host[:port] (STARTTLS when the
    # server offers it; ?starttls=require refuses a server that does not) or smtps://… (TLS from the start)
    smtp_url: SecretStr = SecretStr("")  # a password in it is percent-encoded
    smtp_user: str = ""  # used when the URL carries no user
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout_seconds: float = 20.0  # one whole send, under the outbox lease (30 s)
    mail_from: str = ""  # e.g. "Acme Support <support@acme.example>"; a team's `mail.sender` wins
    mail_templates_dir: str = ""  # <dir>/<team>/<lang>/ack.txt.j2 or <dir>/<lang>/… win over the built-ins
    ack_delay: Annotated[int, NoDecode] = 600  # HOTLOOP_ACK_DELAY, "10m", "0s"; a team's mail.ack_delay wins
    # HOTLOOP_FOLLOW_UP_DELAY: "did we fix it?" this long after resolving; a team's mail.follow_up_delay wins
    follow_up_delay: Annotated[int, NoDecode] = 2 * 86400
    public_page_per_minute: float = 20.0  # /f/ requests per client IP a minute, after a burst of 10 (429)
    public_page_burst: int = 10
    mail_sweep_seconds: float = 5.0
    mail_retry_seconds: float = 30.0  # first retry after a 4xx or a timeout; doubles, at most an hour
    # customer details (name, e-mail, phone, comment, free-text answers) are redacted after this many days;
    # scores, timings and outcomes stay (bot/privacy.py). 0 keeps them until erased.
    customer_retention_days: int = Field(default=365, ge=0)

    # systemic spikes (bot/systemic): HOTLOOP_SYSTEMIC_WINDOW "2h"; a team's `systemic:` block wins
    systemic_window: Annotated[int, NoDecode] = Field(default=7200, ge=60, le=7 * 86400)
    systemic_min_count: int = Field(default=3, ge=1)
    systemic_sensitivity: float = Field(default=0.01, gt=0, lt=1)
    # per-person figures (`/hotloop coach`, `stats --by employee`); off where works councils forbid them
    employee_figures: bool = True

    @field_validator("admins", "alarming_words", "teams_allowed_tenants", "oidc_email_users", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("ack_delay", "follow_up_delay", "systemic_window", mode="before")
    @classmethod
    def _duration(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except DurationError as exc:
                raise ValueError(f"HOTLOOP_{str(info.field_name).upper()}: {exc}") from None
        return value

    @field_validator("admins")
    @classmethod
    def _admin_identities(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                parse_identity(entry)
            except IdentityError as exc:
                raise ValueError(f"HOTLOOP_ADMINS: {exc}") from None
        return value

    @field_validator("oidc_email_users")
    @classmethod
    def _email_users(cls, value: list[str]) -> list[str]:
        for entry in value:
            email, sep, who = entry.partition("=")
            if not sep or "@" not in email:
                raise ValueError("HOTLOOP_OIDC_EMAIL_USERS: each entry is e-mail=slack:<id> or "
                                 "e-mail=teams:<id>")
            try:
                parse_identity(who)
            except IdentityError as exc:
                raise ValueError(f"HOTLOOP_OIDC_EMAIL_USERS: {exc}") from None
        return value

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret.get_secret_value())

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{Path.cwd() / 'hotloop.db'}"

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token.get_secret_value())

    @property
    def teams_enabled(self) -> bool:
        return bool(self.teams_app_id) or self.teams_allow_unauthenticated

    @property
    def mail_enabled(self) -> bool:
        return bool(self.smtp_url.get_secret_value())

    @property
    def teams_tenants(self) -> frozenset[str]:
        """The Entra tenants whose activities are served (lower case); "*" in it means every tenant."""
        tenants = [self.teams_tenant_id, *self.teams_allowed_tenants]
        return frozenset(t.strip().lower() for t in tenants if t.strip())


def _is_placeholder(secret: SecretStr) -> bool:
    return secret.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS


def weak_secret_key(key: str) -> bool:
    """A missing, placeholder or too short HOTLOOP_SECRET_KEY."""
    return _is_placeholder(SecretStr(key)) or len(key) < MIN_SECRET_KEY_LENGTH


def _check(settings: Settings) -> None:
    if settings.mode is Mode.DEMO:
        return
    problems: list[str] = []
    if weak_secret_key(settings.secret_key.get_secret_value()):
        problems.append(
            f"HOTLOOP_SECRET_KEY must be set to a random value of at least {MIN_SECRET_KEY_LENGTH} "
            "characters (it encrypts source secrets at rest): `hotloop init` writes one to .env"
        )
    if settings.slack_enabled and _is_placeholder(settings.slack_signing_secret):
        problems.append(
            "HOTLOOP_SLACK_SIGNING_SECRET is missing or a placeholder while a Slack bot token is set"
        )
    if settings.teams_app_id and settings.teams_allow_unauthenticated:
        problems.append(
            "HOTLOOP_TEAMS_ALLOW_UNAUTHENTICATED=true is refused when HOTLOOP_TEAMS_APP_ID is set"
        )
    if settings.teams_app_id and _is_placeholder(settings.teams_app_password) and (
        settings.teams_app_type != "UserAssignedMSI"
    ):
        problems.append(
            "HOTLOOP_TEAMS_APP_PASSWORD is missing or a placeholder while HOTLOOP_TEAMS_APP_ID is set"
        )
    if settings.teams_app_id and not settings.teams_tenants:
        # a valid token proves the Bot Connector sent the activity for this app, not from which tenant
        problems.append(
            "HOTLOOP_TEAMS_TENANT_ID (or HOTLOOP_TEAMS_ALLOWED_TENANTS) must be set while "
            "HOTLOOP_TEAMS_APP_ID is set: activities from other tenants are refused "
            "(HOTLOOP_TEAMS_ALLOWED_TENANTS=* serves every tenant)"
        )
    problems += _mail_problems(settings)
    problems += _oidc_problems(settings)
    if problems:
        raise SettingsError("refusing to start:\n  - " + "\n  - ".join(problems))


def _mail_problems(settings: Settings) -> list[str]:
    problems: list[str] = []
    smtp_url = settings.smtp_url.get_secret_value()  # checked here, not by pydantic: its errors quote input
    if smtp_url and not smtp_url.lower().startswith(("smtp://", "smtps://")):
        problems.append("HOTLOOP_SMTP_URL must start with smtp:// or smtps://")
    if settings.mail_enabled and "@" not in settings.mail_from:
        problems.append("HOTLOOP_MAIL_FROM (e.g. support@example.com) must be set with HOTLOOP_SMTP_URL")
    return problems


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _oidc_problems(settings: Settings) -> list[str]:
    given = [bool(settings.oidc_issuer), bool(settings.oidc_client_id),
             bool(settings.oidc_client_secret.get_secret_value())]
    if not any(given):
        return []
    if not all(given):
        return ["HOTLOOP_OIDC_ISSUER, HOTLOOP_OIDC_CLIENT_ID and HOTLOOP_OIDC_CLIENT_SECRET are set together "
                "(or none of them: sign-in with chat links only)"]
    problems: list[str] = []
    if _is_placeholder(settings.oidc_client_secret):
        problems.append("HOTLOOP_OIDC_CLIENT_SECRET is a placeholder")
    issuer = urlsplit(settings.oidc_issuer)
    if not (issuer.scheme == "https" or (issuer.scheme == "http" and issuer.hostname in LOOPBACK_HOSTS)):
        problems.append("HOTLOOP_OIDC_ISSUER must be an https:// address (the provider's issuer)")
    if not settings.public_url:
        problems.append("HOTLOOP_PUBLIC_URL must be set with HOTLOOP_OIDC_ISSUER "
                        "(the provider returns to <public url>/app/login/oidc/callback)")
    return problems


def build_settings(**overrides: object) -> Settings:
    """Read the environment (overrides win) and refuse unsafe combinations."""
    try:
        # pydantic validates every value at runtime; the plugin's typed __init__ cannot see that
        # HOTLOOP_ENV_FILE names another file, or "" for none (the test suite: a developer's own
        # `.env` in the checkout must not change what the tests see)
        env_file = os.environ.get("HOTLOOP_ENV_FILE", ENV_FILE) or None
        settings = Settings(_env_file=env_file, **cast("dict[str, Any]", overrides))
    except ValidationError as exc:
        raise SettingsError(f"invalid settings: {exc}") from exc
    _check(settings)
    return settings
