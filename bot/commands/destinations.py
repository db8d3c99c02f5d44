"""Command handlers for where alerts go: routes, teams, and binding chat channels to teams."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.business_hours import BusinessHours, BusinessHoursError
from bot.commands.base import (
    CHAT_PLATFORMS,
    Caller,
    CommandError,
    CommandReply,
    UsageError,
    changed,
    channel_arg,
    chat_place,
    expect_words,
    identity_arg,
    int_arg,
    name_arg,
    split_words,
    take_option,
    team_column,
    team_named,
    team_names,
)
from bot.context import Context
from bot.identity import IdentityError, canonical, qualify
from bot.rules.routing import RouteError, format_match, parse_match
from storage import queries
from storage.db import transaction
from storage.models import Route, Team
from storage.queries import config as config_queries

DEFAULT_ROUTE_PRIORITY = 100
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_WORDS = {"daily": "mon-sun", "everyday": "mon-sun", "weekdays": "mon-fri", "weekends": "sat-sun"}
_TEAM = r'(?P<team>"[^"]*"|\S+)'
_PRIORITY = r"(?:\s+priority\s+(?P<priority>\S+))?"
_ROUTE_ADD = re.compile(rf"^(?P<match>.+)\s+team\s+{_TEAM}{_PRIORITY}\s*$", re.IGNORECASE | re.DOTALL)
_ROUTE_HERE = re.compile(rf"^(?P<match>.+?){_PRIORITY}\s*$", re.IGNORECASE | re.DOTALL)
_HOURS = re.compile(r"^(\d{1,2}):([0-5]\d)-(\d{1,2}):([0-5]\d)$")


def _match(text: str) -> dict[str, Any]:
    try:
        return parse_match(text)
    except RouteError as exc:
        raise UsageError(str(exc)) from None


def _priority(text: str | None) -> int:
    return DEFAULT_ROUTE_PRIORITY if text is None else int_arg(text, what="priority")


def _one_word(text: str) -> str:
    words = split_words(text)
    if len(words) != 1:
        raise UsageError(f"expected one team name, got {text!r}")
    return words[0]


async def _add_route(
    session: AsyncSession, *, match: dict[str, Any], team: Team, priority: int, caller: Caller
) -> Route:
    assert team.id is not None
    route = Route(priority=priority, match=match, team_id=team.id, created_by=caller.actor.id[:64])
    session.add(route)
    await session.flush()
    return route


def _route_added(route: Route, team: Team, *, extra: str = "") -> CommandReply:
    where = f"{format_match(route.match)} → {team.name}"
    return changed(f"Route #{route.id} added: {where} (priority {route.priority}){extra}")


# ---------------------------------------------------------------------------------------------
# route


async def route_add(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    found = _ROUTE_ADD.match(args.strip())
    if not found:
        raise UsageError("expected conditions, then 'team <name>'")
    match, priority = _match(found["match"]), _priority(found["priority"])
    async with transaction(ctx.sessions) as session:
        team = await team_named(session, name=_one_word(found["team"]))
        route = await _add_route(session, match=match, team=team, priority=priority, caller=caller)
    return _route_added(route, team)


async def route_list(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    expect_words(args, 0)
    async with ctx.sessions() as session:
        routes = await queries.list_routes(session)
        names = await team_names(session)
        default = await queries.default_team(session)
    lines = ["Routes (lowest priority number first; the first match wins):"]
    lines += [
        f"  #{r.id}  priority {r.priority}  {format_match(r.match)} → {names.get(r.team_id, '?')}"
        for r in routes
    ]
    if not routes:
        lines.append("  (none yet: add one with 'route add location=042 team store-042')")
    lines.append(f"Anything else → {default.name if default else '?'} (the default team)")
    return CommandReply("\n".join(lines))


async def route_remove(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    (word,) = expect_words(args, 1)
    route_id = int_arg(word, what="route id", low=1, high=2**31 - 1)
    async with transaction(ctx.sessions) as session:
        route = await config_queries.get_route(session, route_id=route_id)
        if route is None:
            raise CommandError(f"no route #{route_id} (see 'route list')")
        description = format_match(route.match)
        await config_queries.delete_row(session, row=route)
    return changed(f"Route #{route_id} removed ({description}).")


def _new_team_name(caller: Caller, channel: str) -> str:
    base = (caller.channel_name or channel).strip().lstrip("#")
    name = re.sub(r"\s+", "-", base)[:100]
    return name or channel[:100]


async def _team_here(session: AsyncSession, *, caller: Caller) -> tuple[Team, str]:
    """The team bound to this channel; if none, one named after the channel, bound to it."""
    platform, channel = chat_place(caller)
    team = await config_queries.team_bound_to(session, platform=platform, channel=channel)
    if team is not None:
        return team, ""
    column = team_column(platform)
    name = _new_team_name(caller, channel)
    team = await queries.get_team_by_name(session, name=name)
    if team is not None and getattr(team, column):  # that name already posts elsewhere
        name = f"{name[:60]}-{channel}"[:100]
        team = await queries.get_team_by_name(session, name=name)
        if team is not None:
            raise CommandError(f"team {name!r} exists but is bound elsewhere: use 'route add … team <name>'")
    if team is None:
        team = Team(name=name)
        session.add(team)
    setattr(team, column, channel)
    await session.flush()
    return team, f"; this channel is now team {team.name}'s alert channel"


async def route_here(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    found = _ROUTE_HERE.match(args.strip())
    if not found:
        raise UsageError("expected conditions, e.g. 'route here location=042'")
    match, priority = _match(found["match"]), _priority(found["priority"])
    async with transaction(ctx.sessions) as session:
        team, note = await _team_here(session, caller=caller)
        route = await _add_route(session, match=match, team=team, priority=priority, caller=caller)
    return _route_added(route, team, extra=note)


# ---------------------------------------------------------------------------------------------
# team


def _channel_platform(word: str, caller: Caller) -> str:
    if word.startswith("<#"):
        return "slack"
    if word.startswith("19:"):
        return "teams"
    return caller.actor.platform if caller.actor.platform in CHAT_PLATFORMS else "slack"


async def team_add(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    words, channel_word = take_option(split_words(args), "channel")
    if len(words) != 1:
        raise UsageError("expected one team name (and optionally 'channel <channel>')")
    name = name_arg(words[0])
    channel = channel_arg(channel_word) if channel_word is not None else None
    async with transaction(ctx.sessions) as session:
        if await queries.get_team_by_name(session, name=name) is not None:
            raise CommandError(f"a team named {name!r} already exists (see 'team list')")
        team = Team(name=name)
        where = ""
        if channel_word is not None and channel is not None:
            platform = _channel_platform(channel_word, caller)
            if platform == "slack" and len(channel) > 64:
                raise UsageError(f"not a Slack channel id: {channel[:64]!r}…")
            setattr(team, team_column(platform), channel)
            where = f", posting to {platform} channel {channel}"
        session.add(team)
    return changed(f"Team {name!r} added{where}.")


def _hours_text(team: Team) -> str:
    hours = team.business_hours
    if not hours:
        return "24/7"
    days = ",".join(hours.get("days") or DAYS[:5])
    return f"{days} {hours.get('start')}-{hours.get('end')} {team.timezone}"


def _team_line(team: Team) -> str:
    places = [
        (label, value)
        for label, value in (
            ("Slack", team.slack_channel),
            ("Teams", team.teams_channel),
            ("managers' Slack", team.managers_slack_channel),
            ("managers' Teams", team.managers_teams_channel),
        )
        if value
    ]
    where = ", ".join(f"{label} {value}" for label, value in places) or "no channel yet"
    managers = ", ".join(team.managers) or "none"
    default = " (default)" if team.is_default else ""
    return f"  {team.name}{default}: {where}; managers: {managers}; hours: {_hours_text(team)}"


async def team_list(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    expect_words(args, 0)
    async with ctx.sessions() as session:
        teams = await queries.list_teams(session)
    return CommandReply("\n".join(["Teams:", *(_team_line(team) for team in teams)]))


def _stored_managers(team: Team) -> list[str]:
    """The team's managers as qualified identities; an old unprefixed entry is read by its shape
    (one whose platform cannot be told is kept as written, and matches nobody)."""
    stored = []
    for entry in team.managers:
        try:
            stored.append(canonical(entry))
        except IdentityError:
            stored.append(entry)
    return list(dict.fromkeys(stored))


async def team_managers(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    name, action, user_word = expect_words(args, 3)
    action = action.lower()
    if action not in ("add", "remove"):
        raise UsageError(f"expected add or remove, got {action!r}")
    user = qualify(*identity_arg(user_word))
    async with transaction(ctx.sessions) as session:
        team = await team_named(session, name=name)
        managers = _stored_managers(team)
        if action == "add":
            if user in managers:
                raise CommandError(f"{user} is already a manager of {team.name}")
            managers.append(user)
        else:
            if user not in managers:
                raise CommandError(f"{user} is not a manager of {team.name}")
            managers.remove(user)
        team.managers = managers  # a new list: JSON columns do not track in-place changes
    verb = "is now a manager of" if action == "add" else "is no longer a manager of"
    return changed(f"{user} {verb} {team.name}. Managers: {', '.join(managers) or 'none'}.")


def _day_range(part: str) -> list[int]:
    ends = part.split("-")
    if not 1 <= len(ends) <= 2 or not all(end in DAYS for end in ends):
        raise UsageError(f"not a day or day range: {part!r} (write e.g. mon-fri or mon,wed,fri)")
    first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
    return [(first + i) % 7 for i in range((last - first) % 7 + 1)]


def _days(text: str) -> list[str]:
    text = _DAY_WORDS.get(text.lower(), text.lower())
    picked = {day for part in text.split(",") for day in _day_range(part.strip())}
    return [DAYS[day] for day in sorted(picked)]


def _hours(text: str) -> tuple[str, str]:
    found = _HOURS.match(text)
    if not found or int(found[1]) > 23 or int(found[3]) > 23:
        raise UsageError(f"not an opening time range: {text!r} (write e.g. 09:00-18:00)")
    return f"{int(found[1]):02d}:{found[2]}", f"{int(found[3]):02d}:{found[4]}"


async def team_hours(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    words = split_words(args)
    if len(words) == 2 and words[1].lower() == "off":
        async with transaction(ctx.sessions) as session:
            team = await team_named(session, name=words[0])
            team.business_hours = None
        return changed(f"Team {team.name}: SLA clocks now run 24/7.")
    if len(words) != 4:
        raise UsageError("expected a team, a time zone, days and opening hours (or 'off')")
    name, timezone, days_text, hours_text = words
    start, end = _hours(hours_text)
    config: dict[str, Any] = {"days": _days(days_text), "start": start, "end": end}
    if len(timezone) > 64:
        raise UsageError(f"unknown time zone {timezone[:64]!r}…")
    try:
        BusinessHours.from_config(config, timezone=timezone)
    except BusinessHoursError as exc:
        raise UsageError(str(exc)) from None
    async with transaction(ctx.sessions) as session:
        team = await team_named(session, name=name)
        holidays = (team.business_hours or {}).get("holidays") or []
        team.business_hours = {**config, "holidays": list(holidays)}
        team.timezone = timezone
    return changed(f"Team {team.name}: SLA clocks run {_hours_text(team)}.")


# ---------------------------------------------------------------------------------------------
# link


async def _link(args: str, *, caller: Caller, ctx: Context, managers: bool) -> CommandReply:
    (name,) = expect_words(args, 1)
    platform, channel = chat_place(caller)
    column = team_column(platform, managers=managers)
    async with transaction(ctx.sessions) as session:
        team = await team_named(session, name=name)
        previous = getattr(team, column)
        setattr(team, column, channel)
    audience = "managers' " if managers else ""
    replaced = f" (instead of {previous})" if previous and previous != channel else ""
    here = caller.channel_name or channel
    return changed(f"This {platform} channel ({here}) is now team {team.name}'s {audience}channel{replaced}.")


async def link_team(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    return await _link(args, caller=caller, ctx=ctx, managers=False)


async def link_managers(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    return await _link(args, caller=caller, ctx=ctx, managers=True)
