"""A click its adapter answers itself: what the change records so the outbox leaves that card alone.

Slack replaces the clicked message through the click's `response_url`, and after a Teams Action.Submit
the bot PUTs the refreshed card, both for everyone, so the `card.update` written with the change skips
the clicked place (`bot.alerts.writer.Change.answered`). A Teams invoke answer replaces the card for the
clicker only, so that place is still updated by the outbox. A claim made from a burst digest also
sends the claimer the alert's full card by direct message: the digest line has no room for the
customer's words, and a second card in the digest's channel has no place of its own (one `CardRef`
per alert and channel).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.action_ids import ActionId
from bot.alerts.lifecycle import Actor, Plan
from bot.alerts.writer import Change
from bot.outbox import Place
from storage.models import Alert
from storage.queries import chat as chat_queries


async def clicked_audience(session: AsyncSession, *, alert_id: int, place: Place | None) -> str | None:
    """The audience (team, managers, digest) of the clicked card when it is one of the alert's places."""
    if place is None:
        return None
    platform, _, message_id = place
    return await chat_queries.card_audience(session, alert_id=alert_id, platform=platform,
                                            message_id=message_id)


def answering(plan: Plan, *, action: ActionId, actor: Actor, place: Place | None, audience: str | None,
              skip: bool = True) -> Plan:
    """`plan`, its change marked as answered at `place` when `skip` (the adapter refreshed it for
    everyone); a claim from a digest also DMs the full card."""
    if place is None:
        return plan

    def answered(alert: Alert) -> Change:
        change = plan(alert)
        # a digest lists other alerts, whose changes may commit between this render and its arrival:
        # the outbox refreshes it once more (one call per message, however many claims)
        if skip and audience != "digest":
            change.answered = place
        if action is ActionId.CLAIM and audience == "digest":
            text = f"You claimed {alert.key} from the digest. Here is its full card."
            change.card_directs.append((actor.platform, actor.id, text))
        return change

    return answered
