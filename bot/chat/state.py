"""What the chat adapters keep and read besides actions, each in a session or transaction of its own
(adapters open none): deliveries acted on once, Teams conversation references, the card a click
refreshes, and the cards of the Slack Home tab."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.cards.model import Card
from bot.cards.views import load_card
from bot.chat.deliveries import ledger_for
from bot.config.snapshot import ConfigSnapshot
from storage import queries
from storage.db import SessionFactory, transaction
from storage.queries import chat as chat_queries

DELIVERY_ID_MAX = 255  # WebhookDelivery.delivery_id


async def first_delivery(sessions: SessionFactory, *, platform: str, delivery_id: str, now: datetime) -> bool:
    """Record a delivery (a Slack event_id or signature key, a Teams activity); False when seen before.
    Calls that wait at the same time share one transaction (group commit, bot/chat/deliveries.py)."""
    return await ledger_for(sessions).first(platform, delivery_id[:DELIVERY_ID_MAX], now)


async def remember_conversation(
    sessions: SessionFactory,
    *,
    platform: str,
    conversation_id: str,
    reference: dict[str, Any],
    name: str | None,
    now: datetime,
) -> None:
    """Store where a conversation lives, so hotloop can post there later (PROTOCOLS §15)."""
    async with transaction(sessions) as session:
        await chat_queries.upsert_conversation(
            session, platform=platform, conversation_id=conversation_id, reference=reference, name=name,
            now=now,
        )


async def conversation_reference(
    sessions: SessionFactory, *, platform: str, conversation: str | None, newest_otherwise: bool
) -> Mapping[str, Any]:
    """The stored reference of `conversation`; else, when `newest_otherwise`, the one heard from last;
    else {}."""
    async with sessions() as session:
        found = None
        if conversation:
            found = await chat_queries.conversation_reference(
                session, platform=platform, conversation_id=conversation
            )
        if found is None and newest_otherwise:
            found = await chat_queries.newest_conversation_reference(session, platform=platform)
    return found or {}


async def card_after_click(
    sessions: SessionFactory,
    *,
    alert_key: str,
    platform: str,
    message_id: str | None,
    conversation: str | None,
    config: ConfigSnapshot,
    now: datetime,
) -> Card | None:
    """The alert's card as it is now, for the audience of the card clicked (`message_id`); else "team"
    in one of the team's channels and "managers" anywhere else. None for a digest (the outbox
    re-renders it) or an alert that is gone."""
    async with sessions() as session:
        alert = await queries.get_alert(session, key=alert_key)
        if alert is None or alert.id is None:
            return None
        audience = None
        if message_id:
            audience = await chat_queries.card_audience(
                session, alert_id=alert.id, platform=platform, message_id=message_id
            )
        if audience == "digest":
            return None
        if audience is None:
            here = (platform, conversation) in config.team(alert.team_id).destinations
            audience = "team" if here else "managers"
        return await load_card(session, alert_id=alert.id, audience=audience, now=now)


@dataclass(frozen=True)
class HomeCards:
    mine: list[Card]  # the person's unresolved alerts, newest first, at most `mine_max`
    mine_more: int  # how many more they own
    queue: list[Card]  # open alerts nobody has claimed, newest first


async def home_cards(
    sessions: SessionFactory, *, user_id: str, platform: str, now: datetime, mine_max: int, queue_max: int
) -> HomeCards:
    """What a person's home view lists: their alerts ("mine" is by platform and id) and the queue."""
    async with sessions() as session:
        mine = await queries.list_alerts(
            session, owner_id=user_id, owner_platform=platform, active_only=True, limit=mine_max + 1
        )
        queue = await queries.list_alerts(session, status="open", limit=queue_max)
        more = 0
        if len(mine) > mine_max:  # count the rest only when the list is cut
            total = await chat_queries.count_active_owned(session, owner_id=user_id, owner_platform=platform)
            more = total - mine_max
        cards: dict[str, list[Card]] = {"mine": [], "queue": []}
        ids = {
            "mine": [a.id for a in mine[:mine_max] if a.id is not None],
            "queue": [a.id for a in queue if a.id is not None and a.owner_id is None],
        }
        for part, alert_ids in ids.items():
            for alert_id in alert_ids:
                card = await load_card(session, alert_id=alert_id, audience="team", now=now)
                if card is not None:
                    cards[part].append(card)
    return HomeCards(mine=cards["mine"], mine_more=more, queue=cards["queue"])
