"""Command handlers for who and what may reach hotloop: survey sources and admins."""

from __future__ import annotations

from bot.commands.base import (
    Caller,
    CommandError,
    CommandReply,
    UsageError,
    changed,
    expect_words,
    identity_arg,
    split_words,
)
from bot.config.sources import SourceConfigError, add_source, list_sources, rotate_secret
from bot.context import Context
from storage import queries
from storage.db import transaction
from storage.models import Admin
from storage.queries import config as config_queries

MIN_SECRET_LENGTH = 8


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


