"""`/hotloop erase <email>`: an admin erases every stored trace of a customer (bot/privacy/erase.py)."""

from __future__ import annotations

from bot.commands.base import Caller, CommandReply, UsageError, expect_words
from bot.context import Context
from bot.domain import utcnow
from bot.privacy.erase import PrivacyError, erase_customer, erasure_text


async def erase(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    (email,) = expect_words(args, 1)
    try:
        erasure = await erase_customer(ctx.sessions, email=email, actor=caller.actor, now=utcnow())
    except PrivacyError as exc:
        raise UsageError(str(exc)) from None
    ctx.signal.notify()  # the card updates go out now, not at the next poll
    # shown to the admin alone: which alerts belonged to the customer is theirs to know
    return CommandReply(erasure_text(erasure), secret=True)
