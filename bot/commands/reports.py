"""Command handlers for what people read: mine, stats, status, config export."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.cards.model import sla_line
from bot.commands.base import (
    Caller,
    CommandError,
    CommandReply,
    UsageError,
    duration_arg,
    expect_words,
    split_words,
    team_named,
)
from bot.context import Context
from bot.domain import utcnow
from bot.metrics import LoopFigures, customer_loop_lines, format_rate, format_seconds, loop_figures
from storage import queries
from storage.queries.ignored_webhooks import IgnoredCount, ignored_webhook_counts

_WINDOW = re.compile(r"^\d+[smhdw]$", re.IGNORECASE)
MINE_LIMIT = 50


# ---------------------------------------------------------------------------------------------
# mine, stats, config export


async def mine(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    expect_words(args, 0)
    async with ctx.sessions() as session:
        alerts = await queries.list_alerts(
            session, owner_id=caller.actor.id, owner_platform=caller.actor.platform, active_only=True,
            limit=MINE_LIMIT,
        )
    if not alerts:
        return CommandReply("You have no open alerts.")
    now = utcnow()
    lines = [f"Your open alerts ({len(alerts)}{'+' if len(alerts) == MINE_LIMIT else ''}):"]
    for alert in sorted(alerts, key=lambda a: a.id or 0):
        sla, overdue = sla_line(alert, now=now)
        flag = " (!)" if overdue else ""
        lines.append(f"  {alert.key}  {alert.severity}  {alert.status}  {sla or 'no deadline'}{flag}")
    return CommandReply("\n".join(lines))


def _figures_line(figures: LoopFigures) -> str:
    return (
        f"  {figures.team}: {figures.raised} alerts ({figures.open} open, {figures.claimed} claimed, "
        f"{figures.resolved} resolved); responded {format_rate(figures.response_rate)}; "
        f"median claim {format_seconds(figures.median_claim)}, median resolve "
        f"{format_seconds(figures.median_resolve)}; SLA breached {format_rate(figures.breach_rate)}; "
        f"recovered {format_rate(figures.recovery_rate)}"
        + (f"; {figures.systemic_issues} systemic issue(s)" if figures.systemic_issues else "") + "\n    "
        + "; ".join(f"{label.lower()} {value}" for label, value in customer_loop_lines(figures))
    )


async def stats(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    words = split_words(args)
    window_text = "7d"
    if words and _WINDOW.match(words[0]):
        window_text = words.pop(0).lower()
    if len(words) > 1:
        raise UsageError("expected an optional window (7d, 30d…) and an optional team name")
    window = duration_arg(window_text, what="window")
    team = words[0] if words else None
    if team is not None:
        async with ctx.sessions() as session:
            await team_named(session, name=team)
    rows = await loop_figures(ctx.sessions, now=utcnow(), window=timedelta(seconds=window), team=team)
    if team is not None:
        rows = rows[1:] or [LoopFigures(team=team)]
    lines = [f"Closed-loop figures, last {window_text}:", *(_figures_line(f) for f in rows)]
    return CommandReply("\n".join(lines))


async def config_export(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    expect_words(args, 0)
    from bot.config.io import ConfigError, dump_yaml, export_config  # lazily: config_io is still moving

    try:
        document = await export_config(ctx.sessions)
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    return CommandReply(dump_yaml(document).rstrip("\n"), secret=True)


# ---------------------------------------------------------------------------------------------
# status: is chat delivery healthy? (admins also get a DM for each new kind of failure)


STATUS_WINDOW = timedelta(hours=24)


def _ignored_webhook_lines(ignored: list[IgnoredCount]) -> list[str]:
    """Webhooks answered 2xx that stored nothing (an event type hotloop does not act on): never silent."""
    if not ignored:
        return []
    return ["Webhooks answered but not stored (today and yesterday, UTC):"] + [
        f"  {row.source}: {row.reason} ×{row.count}, last {row.last_at:%a %H:%M} UTC" for row in ignored
    ]


async def status(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    expect_words(args, 0)
    now = utcnow()
    since = now - STATUS_WINDOW
    async with ctx.sessions() as session:
        finished = await queries.outbox_finished_counts(session, since=since)
        waiting = await queries.outbox_depth(session)
        oldest = await queries.oldest_pending_outbox(session)
        failures = await queries.failure_groups(session, since=since)
        ignored = await ignored_webhook_counts(session, since=since)
    age = f" (oldest {format_seconds((now - oldest).total_seconds())})" if oldest else ""
    lines = [
        f"Chat delivery, last 24 h: {finished.get('done', 0)} sent, {finished.get('failed', 0)} failed "
        f"for good; {waiting} waiting{age}.",
        *_ignored_webhook_lines(ignored),
    ]
    if not failures:
        lines.append("No failed deliveries.")
        return CommandReply("\n".join(lines))
    lines.append("Failures, most frequent first:")
    lines += [
        f"  {platform} {destination or '(no destination)'}: {error or 'unknown error'} ×{count}"
        + (f", last {last:%a %H:%M} UTC" if last else "")
        for platform, destination, error, count, last in failures
    ]
    lines.append("Each failed card is also in its alert's history. Check the channel with 'team list'.")
    return CommandReply("\n".join(lines))
