"""`/hotloop systemic set|show`: a team's systemic-spike detection (bot/systemic).

`systemic set <team|*> [window 2h] [min 3] [sensitivity 0.01] [on|off]` changes only the values given
(the others stay as they were: the team's own, else HOTLOOP_SYSTEMIC_*); `systemic set <team|*> reset`
drops the team's own values. `*` = every team. Answers say the effective values.
"""

from __future__ import annotations

from typing import Any

from bot.commands.base import (
    EVERY_TEAM,
    Caller,
    CommandReply,
    UsageError,
    changed,
    split_words,
    team_named,
)
from bot.config.systemic import SystemicConfigError, describe, parse_systemic, systemic_settings
from bot.context import Context
from bot.settings import Settings
from storage import queries
from storage.db import transaction
from storage.models import Team

_KEYWORDS = {"window": "window", "min": "min_count", "min_count": "min_count", "sensitivity": "sensitivity"}
_SWITCHES = {"on": True, "off": False}
RESET = "reset"


def _number(key: str, word: str) -> int | float:
    try:
        return int(word) if key == "min_count" else float(word)
    except ValueError:
        what = "a whole number" if key == "min_count" else "a number between 0 and 1"
        raise UsageError(f"{key.replace('_', ' ')} must be {what}, got {word!r}") from None


def parse_changes(words: list[str]) -> dict[str, Any]:
    """`window 2h min 3 sensitivity 0.01 on` → {"window": "2h", "min_count": 3, …} (not validated yet)."""
    changes: dict[str, Any] = {}
    rest = list(words)
    while rest:
        word = rest.pop(0).lower()
        if word in _SWITCHES:
            changes["enabled"] = _SWITCHES[word]
        elif word in _KEYWORDS and rest:
            key = _KEYWORDS[word]
            value = rest.pop(0)
            changes[key] = value if key == "window" else _number(key, value)
        elif word in _KEYWORDS:
            raise UsageError(f"{word!r} needs a value")
        else:
            raise UsageError(f"unknown setting {word!r} (window, min, sensitivity, on, off)")
    if not changes:
        raise UsageError("say what to change: window, min, sensitivity, on or off (or reset)")
    return changes


def _updated(team: Team, changes: dict[str, Any] | None) -> dict[str, Any] | None:
    """The team's new stored block (None after a reset); a bad value is a UsageError naming it."""
    if changes is None:
        return None
    try:
        return parse_systemic({**(team.systemic or {}), **changes}).stored()
    except SystemicConfigError as exc:
        raise UsageError(str(exc)) from None


def effective_line(settings: Settings, team: Team) -> str:
    own = sorted(team.systemic or {})
    source = f" (set for the team: {', '.join(own)})" if own else " (HOTLOOP_SYSTEMIC_* defaults)"
    return f"  {team.name}: {describe(systemic_settings(settings, team.systemic))}{source}"


async def systemic_set(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    words = split_words(args)
    if not words:
        raise UsageError("expected a team name (or '*') and what to change")
    name, rest = words[0], words[1:]
    changes = None if [w.lower() for w in rest] == [RESET] else parse_changes(rest)
    async with transaction(ctx.sessions) as session:
        if name == EVERY_TEAM:
            teams = list(await queries.list_teams(session))
        else:
            teams = [await team_named(session, name=name)]
        for team in teams:
            team.systemic = _updated(team, changes)
        lines = [effective_line(ctx.settings, team) for team in sorted(teams, key=lambda t: t.name)]
    return changed("Systemic-spike detection now:\n" + "\n".join(lines))


async def systemic_show(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    words = split_words(args)
    if len(words) > 1:
        raise UsageError("expected at most a team name")
    async with ctx.sessions() as session:
        if words:
            teams = [await team_named(session, name=words[0])]
        else:
            teams = list(await queries.list_teams(session))
    lines = [effective_line(ctx.settings, team) for team in sorted(teams, key=lambda t: t.name)]
    return CommandReply("Systemic-spike detection:\n" + "\n".join(lines))
