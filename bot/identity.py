"""Who someone is: a (platform, user id) pair, written `platform:id` ("slack:U0ANA", "teams:<guid>").

A Slack user id and a Teams (Entra) object id live in different namespaces: the same string on two
platforms is two people. Admins, team managers, alert owners and resolvers are therefore always
compared as pairs, never by the bare id.

Unprefixed entries (HOTLOOP_ADMINS, older YAML and stored manager lists) are read by their shape:

    U… / W… + uppercase letters and digits   → slack   (Slack user ids)
    a GUID                                   → teams   (Entra object ids)
    29:…                                     → teams   (Teams user ids)

anything else must be prefixed (`slack:…` / `teams:…`), or it is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SLACK = "slack"
TEAMS = "teams"
CHAT_PLATFORMS = (SLACK, TEAMS)

_SLACK_USER = re.compile(r"[UW][A-Z0-9]+")
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_TEAMS_USER_PREFIX = "29:"


class IdentityError(ValueError):
    """A user reference whose platform cannot be told."""


def platform_by_shape(user_id: str) -> str | None:
    """The platform an unprefixed id belongs to, judged by its shape; None when it could be either."""
    if _SLACK_USER.fullmatch(user_id):
        return SLACK
    if _GUID.fullmatch(user_id) or (user_id.startswith(_TEAMS_USER_PREFIX) and len(user_id) > 3):
        return TEAMS
    return None


def parse_identity(text: str, *, default_platform: str | None = None) -> tuple[str, str]:
    """`slack:U1` / `teams:<id>` / an id of a known shape → (platform, id).

    `default_platform` decides for an id of no known shape (e.g. a command typed in that platform)."""
    text = text.strip()
    prefix, sep, rest = text.partition(":")
    if sep and prefix.lower() in CHAT_PLATFORMS:
        if not rest.strip():
            raise IdentityError(f"{text!r} names a platform but no user")
        return prefix.lower(), rest.strip()
    if not text:
        raise IdentityError("an empty user id")
    platform = platform_by_shape(text) or (default_platform if default_platform in CHAT_PLATFORMS else None)
    if platform is None:
        raise IdentityError(
            f"{text!r} is neither a Slack user id (U…/W…) nor an Entra object id (a GUID): "
            "write it as slack:<id> or teams:<id>"
        )
    return platform, text


def qualify(platform: str, user_id: str) -> str:
    return f"{platform}:{user_id}"


def canonical(text: str, *, default_platform: str | None = None) -> str:
    """The stored form of a user reference: always `platform:id`."""
    return qualify(*parse_identity(text, default_platform=default_platform))


def read_identities(entries: Iterable[str]) -> frozenset[str]:
    """Stored entries (old ones may be unprefixed) → qualified identities; an entry whose platform
    cannot be told matches nobody rather than anybody."""
    found: set[str] = set()
    for entry in entries:
        try:
            found.add(canonical(str(entry)))
        except IdentityError:
            continue
    return frozenset(found)
