"""Command handlers for sources, admins, and what people read: mine, stats, status, config export."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.cards import sla_line
from bot.command_handlers_base import (
    Caller,
    CommandError,
    CommandReply,
    UsageError,
    changed,
    duration_arg,
    expect_words,
    identity_arg,
    split_words,
    team_named,
)
from bot.context import Context
from bot.domain import utcnow
from bot.metrics import LoopFigures, format_rate, format_seconds, loop_figures
from bot.sources import SourceConfigError, add_source, list_sources, rotate_secret
from storage import queries
from storage.db import transaction
from storage.models import Admin
from storage.queries import config as config_queries
from storage.queries.ignored_webhooks import IgnoredCount, ignored_webhook_counts

MIN_SECRET_LENGTH = 8
_WINDOW = re.compile(r"^\d+[smhdw]$", re.IGNORECASE)
MINE_LIMIT = 50


# ---------------------------------------------------------------------------------------------
# source


def _webhook_url(ctx: Context, path: str) -> str:
    return ctx.settings.public_url.rstrip("/") + path


async def source_add(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    words = split_words(args)
    if len(words) not in (2, 3):
        raise UsageError("expected a source name and a kind (and optionally its signing secret)")
    name, kind = words[0], words[1].lower()
    secret = words[2] if len(words) == 3 else None
    if secret is not None and len(secret) < MIN_SECRET_LENGTH:
        raise UsageError(f"a signing secret needs at least {MIN_SECRET_LENGTH} characters")
    try:
        created = await add_source(ctx.sessions, ctx.secrets, name=name, kind=kind, secret=secret)
    except SourceConfigError as exc:
        raise UsageError(str(exc)) from None
    ctx.forget_source(name)
    return changed(
        f"Source {created.name} ({created.kind}) added.\n"
        f"Webhook URL: {_webhook_url(ctx, created.path)}\n"
        f"Signing secret: {created.secret}\n"
        "Keep the secret private; 'source rotate-secret' replaces it.",
        secret=True,
    )


async def source_list(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    expect_words(args, 0)
    sources = await list_sources(ctx.sessions)
    if not sources:
        return CommandReply("No sources yet: add one with 'source add <name> <kind>'.")
    lines = ["Sources:"]
    lines += [f"  {s.name} ({s.kind}): {_webhook_url(ctx, '/webhooks/' + s.name)}" for s in sources]
    return CommandReply("\n".join(lines))


async def source_rotate_secret(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    (name,) = expect_words(args, 1)
    try:
        secret = await rotate_secret(ctx.sessions, ctx.secrets, name=name)
    except SourceConfigError as exc:
        raise CommandError(f"{exc} (see 'source list')") from None
    ctx.forget_source(name)
    return changed(
        f"New signing secret for source {name}: {secret}\n"
        "The old secret stops working now: update the sender's webhook settings.",
        secret=True,
    )


# ---------------------------------------------------------------------------------------------
# admin


async def admin_add(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    (word,) = expect_words(args, 1)
    platform, user = identity_arg(word)
    async with transaction(ctx.sessions) as session:
        if (platform, user) in await queries.admin_pairs(session):
            raise CommandError(f"{user} ({platform}) is already an admin")
        session.add(Admin(user_id=user, platform=platform, added_by=caller.actor.id))
    return changed(f"{user} ({platform}) is now a hotloop admin.")


async def admin_remove(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    (word,) = expect_words(args, 1)
    platform, user = identity_arg(word)
    async with transaction(ctx.sessions) as session:
        rows = await queries.list_admins(session)
        row = next((a for a in rows if (a.platform, a.user_id) == (platform, user)), None)
        if row is None:
            raise CommandError(f"{user} ({platform}) is not an admin (see 'admin list')")
        if len(rows) == 1:
            raise CommandError(f"{user} is the last admin: add another admin before removing them")
        await config_queries.delete_row(session, row=row)
    return changed(f"{user} ({platform}) is no longer a hotloop admin.")


async def admin_list(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    expect_words(args, 0)
    async with ctx.sessions() as session:
        rows = await queries.list_admins(session)
    if not rows:
        return CommandReply("No admins: set HOTLOOP_ADMINS and restart hotloop.")
    lines = ["Admins:", *(f"  {a.user_id} ({a.platform}, added by {a.added_by or '?'})" for a in rows)]
    return CommandReply("\n".join(lines))


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
    from bot.config_io import ConfigError, dump_yaml, export_config  # lazily: config_io is still moving

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
