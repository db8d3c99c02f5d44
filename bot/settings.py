"""Settings from the environment (prefix HOTLOOP_), built by `build_settings()` — never at import.

`build_settings()` fails closed: outside `demo` mode a placeholder secret or an unauthenticated
Teams endpoint with an app id is refused with a clear message.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, cast

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLOOP_", extra="ignore", frozen=True)

    mode: Mode = Mode.PRODUCTION
    database_url: str = ""
    secret_key: SecretStr = SecretStr("")
    public_url: str = "http://127.0.0.1:8000"
    log_level: str = "info"
    log_json: bool = True

    admins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    default_team: str = "support"
    alarming_words: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_ALARMING_WORDS)
    )

    max_body_bytes: int = 256 * 1024
    signature_tolerance_seconds: int = 300

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

    teams_app_id: str = ""
    teams_app_password: SecretStr = SecretStr("")
    teams_tenant_id: str = ""
    teams_app_type: str = "MultiTenant"
    teams_allow_unauthenticated: bool = False
    teams_openid_metadata_url: str = ""

    @field_validator("admins", "alarming_words", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

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


def _is_placeholder(secret: SecretStr) -> bool:
    return secret.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS


def _check(settings: Settings) -> None:
    if settings.mode is Mode.DEMO:
        return
    problems: list[str] = []
    if _is_placeholder(settings.secret_key) or len(settings.secret_key.get_secret_value()) < 16:
        problems.append(
            "HOTLOOP_SECRET_KEY must be set to a random value of at least 16 characters "
            "(it encrypts source secrets at rest); "
            "e.g. `python -c 'import secrets;print(secrets.token_urlsafe(32))'`"
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
    if problems:
        raise SettingsError("refusing to start:\n  - " + "\n  - ".join(problems))


def build_settings(**overrides: object) -> Settings:
    """Read the environment (overrides win) and refuse unsafe combinations."""
    try:
        # pydantic validates every value at runtime; the plugin's typed __init__ cannot see that
        settings = Settings(**cast("dict[str, Any]", overrides))
    except ValidationError as exc:
        raise SettingsError(f"invalid settings: {exc}") from exc
    _check(settings)
    return settings
