"""What every admin command handler shares: the caller, the reply, errors, argument parsing, lookups.

Handlers are `async def handler(args: str, *, caller: Caller, ctx: Context) -> CommandReply`, where
`args` is the raw text after the command words. They raise `UsageError` (the dispatcher appends the
usage line) or `CommandError` (the message alone); anything raised inside `transaction(...)` rolls
the change back, so bad input changes nothing.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.lifecycle import Actor
from bot.context import Context
from bot.durations import DurationError, parse_duration
from bot.identity import SLACK, IdentityError, parse_identity
from storage import queries
from storage.models import Team

CHAT_PLATFORMS = ("slack", "teams")
MAX_PRIORITY = 1_000_000
MAX_DURATION = 365 * 86400
EVERY_TEAM = "*"


@dataclass(frozen=True)
class Caller:
    actor: Actor  # bot.alerts.lifecycle.Actor(id, name, platform)
    channel: str | None  # Slack channel id / Teams conversation id where the command ran
    channel_name: str | None = None


@dataclass(frozen=True)
class ReplyLink:
    """A link hotloop itself made for the caller (never customer text): chat shows it clickable."""

    url: str
    label: str


@dataclass(frozen=True)
class CommandReply:
    text: str  # plain text (no markup); adapters escape it and may wrap it in a code block
    ok: bool = True
    secret: bool = False  # contains a secret: show it only to the caller (ephemeral / 1:1)
    changed_config: bool = False
    link: ReplyLink | None = None  # shown after the text, clickable (the text itself is made inert)


class CommandError(Exception):
    """A command that cannot be done as asked; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(CommandError):
    """The words do not fit the command's grammar: the reply also shows its usage line."""


class Handler(Protocol):
    """`async def handler(args, *, caller, ctx)`: `args` is the raw text after the command words."""

    def __call__(self, args: str, *, caller: Caller, ctx: Context) -> Awaitable[CommandReply]: ...


def changed(text: str, *, secret: bool = False) -> CommandReply:
    return CommandReply(text, secret=secret, changed_config=True)


# ---------------------------------------------------------------------------------------------
# Arguments


def split_words(text: str) -> list[str]:
    """Shell-like words, so `team add "Store 42"` works; an unbalanced quote is a usage error."""
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"cannot read the arguments: {exc}") from None


def expect_words(text: str, count: int) -> list[str]:
    words = split_words(text)
    if len(words) != count:
        raise UsageError(f"expected {count} argument{'s' if count != 1 else ''}, got {len(words)}")
    return words


_USER_MENTION = re.compile(r"^<@([A-Za-z0-9]+)(?:\|[^>]*)?>$")
_CHANNEL_MENTION = re.compile(r"^<#([A-Za-z0-9]+)(?:\|[^>]*)?>$")
_BARE_ID = re.compile(r"^[A-Za-z0-9][\w:@.\-]{0,254}$")


def user_arg(word: str) -> str:
    """`<@U123|dana>`, `<@U123>` or a bare id (Slack user id, Entra object id, `29:…`)."""
    found = _USER_MENTION.match(word)
    if found:
        return found.group(1)
    if word.startswith("<") or not _BARE_ID.match(word):
        raise UsageError(f"not a user: {word!r} (mention them, e.g. @dana, or give their id)")
    return word


def channel_arg(word: str) -> str:
    """`<#C123|general>`, `<#C123>` or a bare channel / conversation id."""
    found = _CHANNEL_MENTION.match(word)
    if found:
        return found.group(1)
    if word.startswith("<") or not _BARE_ID.match(word):
        raise UsageError(f"not a channel: {word!r} (mention it, e.g. #general, or give its id)")
    return word


def destination_arg(word: str) -> str:
    """A channel or a user: escalation steps may go to either."""
    for pattern in (_USER_MENTION, _CHANNEL_MENTION):
        found = pattern.match(word)
        if found:
            return found.group(1)
    return channel_arg(word)


def int_arg(word: str, *, what: str, low: int = 0, high: int = MAX_PRIORITY) -> int:
    text = word.removeprefix("#")
    if not re.fullmatch(r"-?\d{1,9}", text):
        raise UsageError(f"{what} must be a whole number, got {word!r}")
    value = int(text)
    if not low <= value <= high:
        raise UsageError(f"{what} must be between {low} and {high}, got {value}")
    return value


def duration_arg(word: str, *, what: str, allow_zero: bool = False) -> int:
    try:
        seconds = parse_duration(word)
    except DurationError as exc:
        raise UsageError(f"{what}: {exc}") from None
    if not (0 if allow_zero else 1) <= seconds <= MAX_DURATION:
        least = "0s" if allow_zero else "more than 0s"
        raise UsageError(f"{what} must be {least} and at most 365d, got {word!r}")
    return seconds


def name_arg(word: str, *, what: str = "team name") -> str:
    if (
        not word
        or word != word.strip()
        or len(word) > 100
        or word == EVERY_TEAM
        or any(c.isspace() for c in word)
    ):
        raise UsageError(f"not a usable {what}: {word!r} (1–100 characters, no spaces, not '*')")
    if word.startswith("<"):
        raise UsageError(f"not a usable {what}: {word!r} (write the name, not a mention)")
    return word


def take_option(words: Sequence[str], keyword: str) -> tuple[list[str], str | None]:
    """Remove a trailing `keyword VALUE` pair: (other words, value or None)."""
    rest = list(words)
    if len(rest) >= 2 and rest[-2].lower() == keyword:
        return rest[:-2], rest[-1]
    return rest, None


def chat_place(caller: Caller) -> tuple[str, str]:
    """(platform, channel) of the conversation the command ran in; only Slack and Teams have one."""
    platform = caller.actor.platform
    if platform not in CHAT_PLATFORMS or not caller.channel:
        raise CommandError("this command binds the channel it runs in: run it in a Slack or Teams channel")
    return platform, caller.channel


def team_column(platform: str, *, managers: bool = False) -> str:
    prefix = "managers_" if managers else ""
    return f"{prefix}{platform}_channel"


# ---------------------------------------------------------------------------------------------
# Lookups (keyword-only; the caller owns the session and the transaction)


async def team_named(session: AsyncSession, *, name: str) -> Team:
    team = await queries.get_team_by_name(session, name=name)
    if team is None:
        raise CommandError(f"no team named {name!r} (see 'team list', or create it with 'team add {name}')")
    return team


async def team_scope(session: AsyncSession, *, name: str) -> int | None:
    """A team's id, or None for `*` (every team)."""
    if name == EVERY_TEAM:
        return None
    team = await team_named(session, name=name)
    assert team.id is not None
    return team.id


async def team_names(session: AsyncSession) -> dict[int, str]:
    return {team.id: team.name for team in await queries.list_teams(session) if team.id is not None}


async def is_admin(ctx: Context, caller: Caller) -> tuple[bool, bool]:
    """(is the caller an admin — same platform AND id —, is anyone an admin at all)."""
    async with ctx.sessions() as session:
        admins = await queries.admin_pairs(session)
    return (caller.actor.platform, caller.actor.id) in admins, bool(admins)


def identity_arg(word: str) -> tuple[str, str]:
    """A user as (platform, id): `<@U123>` is Slack; `slack:…`/`teams:…` say it; otherwise the id's
    shape must tell (bot/identity.py) — a guess could make the wrong person an admin or a manager."""
    user = user_arg(word)
    if _USER_MENTION.match(word):
        return SLACK, user
    try:
        return parse_identity(user)
    except IdentityError as exc:
        raise UsageError(str(exc)) from None
