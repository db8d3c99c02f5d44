"""A Teams click answered in place: the refreshed card (or digest) for the invoke response (which Teams
shows to the clicker only, so the outbox still updates that card for everyone), or for the PUT after an
Action.Submit (for everyone: the outbox's `card.update` skips that place, `bot.actions.answered`).

The clicked place is (teams, conversation key, replyToId): the card's activity id in the channel the
card lives in, as its `CardRef` records it.
"""

from __future__ import annotations

from typing import Any

from botbuilder.schema import Activity

from adapters.teams import translate
from adapters.teams.card_size import card_content, digest_content
from adapters.teams.connector import TeamsChat
from bot.cards.views import burst_digest
from bot.chat.answer import ClickedView, clicked_view
from bot.chat.port import CardPlace
from bot.context import Context
from bot.domain import utcnow
from bot.outbox import Place


def clicked_place(activity: Activity) -> Place | None:
    """The clicked card's place: None without a card (no replyToId) or a conversation."""
    conversation = translate.conversation_key(activity)
    if not activity.reply_to_id or not conversation:
        return None
    return translate.PLATFORM, conversation, str(activity.reply_to_id)


async def refreshed(ctx: Context, alert_key: str, activity: Activity) -> ClickedView | None:
    """What the clicked card shows now (its own audience; a digest lists its alerts again)."""
    place = clicked_place(activity) or (translate.PLATFORM, translate.conversation_key(activity) or "", "")
    return await clicked_view(ctx.sessions, alert_key=alert_key, place=place,
                              direct=translate.is_personal(activity), config=await ctx.config.get(),
                              now=utcnow())


def content_of(view: ClickedView) -> dict[str, Any]:
    """The Adaptive Card for the view, fitted to Teams' message size like a posted one."""
    if isinstance(view.shown, list):
        return digest_content(burst_digest(view.shown))
    return card_content(view.shown)


async def replace_clicked(chat: TeamsChat, place: CardPlace, view: ClickedView) -> None:
    if isinstance(view.shown, list):
        await chat.update_digest(place=place, digest=burst_digest(view.shown))
    else:
        await chat.update_card(place=place, card=view.shown)
