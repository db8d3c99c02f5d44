"""Who is signed in to the dashboard, and what they may see.

Roles come from hotloop's own configuration, never from the browser:
- admin: a hotloop admin (HOTLOOP_ADMINS, `admin add`) — sees every team;
- manager: named in some team's managers — sees those teams and the teams the link was asked from;
- member: anyone else who could ask the bot for a link — sees the teams whose channel they asked from,
  or the default team when the link was asked from a direct message.

Signing in with OpenID Connect (adapters/web/oidc.py) signs in as the same chat identity, read from the
provider's verified claims by `identity_from_claims`: Slack's `https://slack.com/user_id` (from the
workspace hotloop serves), Entra's `oid` (from a tenant hotloop serves: `tid`), else a verified e-mail
listed in HOTLOOP_OIDC_EMAIL_USERS. Anyone else is refused: the provider knowing them is not enough.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.alerts.lifecycle import Actor
from bot.config.snapshot import ConfigSnapshot
from bot.identity import SLACK, TEAMS, parse_identity, qualify

ADMIN = "admin"
MANAGER = "manager"
MEMBER = "member"
ROLES = (ADMIN, MANAGER, MEMBER)


@dataclass(frozen=True)
class WebUser:
    platform: str  # "slack" | "teams": the chat identity the session was signed in as
    user_id: str
    name: str
    role: str  # ADMIN | MANAGER | MEMBER
    teams: frozenset[int]  # the teams this user sees (admins: every team at sign-in time)
    csrf_token: str
    session_id: int

    @property
    def actor(self) -> Actor:
        """Acting from the page is acting as the chat user: cards, timelines and rights stay the same."""
        return Actor(id=self.user_id, name=self.name, platform=self.platform)

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


def can_see_team(user: WebUser, team_id: int) -> bool:
    return user.role == ADMIN or team_id in user.teams


def role_for(
    config: ConfigSnapshot, *, platform: str, user_id: str, signin_teams: Iterable[int]
) -> tuple[str, frozenset[int]]:
    """(role, visible teams) for a chat identity, read from the current configuration each request:
    a manager removed in chat loses the wider view at their next page."""
    who = qualify(platform, user_id)
    if who in config.admins:
        return ADMIN, frozenset(config.teams)
    asked_from = frozenset(team for team in signin_teams if team in config.teams)
    managed = frozenset(team.id for team in config.teams.values() if who in team.managers)
    if managed:
        return MANAGER, managed | asked_from
    return MEMBER, asked_from or frozenset({config.default_team_id})


SLACK_USER_CLAIM = "https://slack.com/user_id"
SLACK_TEAM_CLAIM = "https://slack.com/team_id"
SLACK_ENTERPRISE_CLAIM = "https://slack.com/enterprise_id"
MAX_NAME = 255


@dataclass(frozen=True)
class ChatIdentity:
    platform: str
    user_id: str
    name: str


class AccountRefused(Exception):
    """A provider's account that is no hotloop user; `reason` is shown to them (403)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def email_users(entries: Iterable[str]) -> dict[str, tuple[str, str]]:
    """HOTLOOP_OIDC_EMAIL_USERS ("ana@acme.example=slack:U0ANA") → {lower-case e-mail: (platform, id)}."""
    mapped: dict[str, tuple[str, str]] = {}
    for entry in entries:
        email, _, who = entry.partition("=")
        mapped[email.strip().lower()] = parse_identity(who)
    return mapped


def _text(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    return value.strip() if isinstance(value, str) else ""


def _display_name(claims: Mapping[str, Any], fallback: str) -> str:
    return (_text(claims, "name") or _text(claims, "email") or fallback)[:MAX_NAME]


def identity_from_claims(
    claims: Mapping[str, Any],
    *,
    slack_workspaces: frozenset[str],
    teams_tenants: frozenset[str],
    emails: Mapping[str, tuple[str, str]],
) -> ChatIdentity:
    """The chat user a verified ID token names, or `AccountRefused` with why.

    `slack_workspaces`: the Slack team (or Enterprise Grid org) ids hotloop serves; `teams_tenants`:
    the Entra tenant ids (lower case, "*" for any); `emails`: `email_users(...)`."""
    slack_user = _text(claims, SLACK_USER_CLAIM)
    if slack_user:
        workspace = {_text(claims, SLACK_TEAM_CLAIM), _text(claims, SLACK_ENTERPRISE_CLAIM)} - {""}
        if not workspace & slack_workspaces:
            raise AccountRefused("This Slack account belongs to a workspace hotloop does not serve.")
        return ChatIdentity(SLACK, slack_user, _display_name(claims, slack_user))
    tenant, object_id = _text(claims, "tid").lower(), _text(claims, "oid")
    if tenant:
        if not object_id:
            raise AccountRefused("The Microsoft account did not say who you are (no object id).")
        if "*" not in teams_tenants and tenant not in teams_tenants:
            raise AccountRefused("This Microsoft account belongs to an organisation (tenant) hotloop "
                                 "does not serve.")
        return ChatIdentity(TEAMS, object_id, _display_name(claims, object_id))
    email = _text(claims, "email").lower()
    if email and claims.get("email_verified") is True and email in emails:
        platform, user_id = emails[email]
        return ChatIdentity(platform, user_id, _display_name(claims, email))
    raise AccountRefused("No hotloop user matches this account. Sign in from chat instead, or ask an "
                         "admin to add your e-mail address to HOTLOOP_OIDC_EMAIL_USERS.")
