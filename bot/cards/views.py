"""Build cards and digests from what the database says *now* (used by delivery and chat replies)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards.model import SEVERITY_EMOJI, Card, DigestCard, DigestItem, build_card, comment_start
from bot.cards.systemic import SYSTEMIC_KIND, ChildLine, child_lines
from bot.domain import AlertStatus, Severity
from storage.db import SessionFactory
from storage.models import CardRef
from storage.queries import cards as card_queries
from storage.queries import outbox as outbox_queries
from storage.queries import systemic as systemic_queries


async def load_card(session: AsyncSession, *, alert_id: int, audience: str, now: datetime) -> Card | None:
    row = await card_queries.card_row(session, alert_id=alert_id)
    if row is None:
        return None
    return (await _build(session, [row], audience=audience, now=now))[0]


async def load_cards(
    session: AsyncSession, *, alert_ids: Sequence[int], audience: str, now: datetime
) -> dict[int, Card]:
    """Several alerts' cards in one query (a burst digest); alerts that are gone are left out."""
    rows = await card_queries.card_rows(session, alert_ids=alert_ids)
    cards = await _build(session, rows, audience=audience, now=now)
    return {row[0].id: card for row, card in zip(rows, cards, strict=True) if row[0].id is not None}


async def _build(
    session: AsyncSession, rows: Sequence[card_queries.CardRow], *, audience: str, now: datetime
) -> list[Card]:
    """The cards of `rows`, with their systemic parents (one query for the whole batch) and, for a
    systemic issue's own card, its children (two queries per such card: they are few)."""
    responses = [a.id for a, *_ in rows if a.id is not None and a.kind != SYSTEMIC_KIND]
    parents = await systemic_queries.parents_of(session, alert_ids=responses) if responses else {}
    cards = []
    for alert, feedback, team, source_name in rows:
        children: tuple[ChildLine, ...] = ()
        if alert.kind == SYSTEMIC_KIND and alert.id is not None:
            children = await _children(session, alert.id)
        cards.append(build_card(alert, feedback, team, source_name=source_name, now=now, audience=audience,
                                part_of=parents.get(alert.id or 0, ()), children=children))
    return cards


async def _children(session: AsyncSession, parent_alert_id: int) -> tuple[ChildLine, ...]:
    rows = await systemic_queries.children_of(session, alert_id=parent_alert_id)
    places = await card_queries.child_slack_places(session, parent_alert_id=parent_alert_id) if rows else {}
    return child_lines(rows, slack_places=places)


def digest_item(card: Card) -> DigestItem:
    """A burst digest's line for `card`: owner and due time have their own fields, the summary is the
    card's title ("Detractor · NPS 2 · asks to be contacted")."""
    return DigestItem(
        alert_key=card.alert_key,
        severity=card.severity,
        summary=card.title,
        status=card.status,
        customer_name=card.customer_name,
        comment_start=comment_start(card.comment),
        due_text=card.sla_text,
        overdue=card.sla_overdue,
        owner_name=card.owner_name,
        part_of=card.part_of,
    )


def _urgency(card: Card) -> tuple[bool, int, datetime]:
    """Sort key: overdue first, then the most severe, then the oldest."""
    received = card.received_at or datetime.max.replace(tzinfo=UTC)
    if received.tzinfo is None:
        received = received.replace(tzinfo=UTC)
    return (not card.sla_overdue, -card.severity.rank, received)


def burst_digest(cards: Sequence[Card], *, team_name: str | None = None) -> DigestCard:
    """One message for a burst of alerts to one channel: every alert listed, most urgent first (overdue →
    severity → age), each with its Claim button."""
    cards = sorted(cards, key=_urgency)
    items = tuple(digest_item(c) for c in cards)
    worst = max((c.severity for c in cards), key=lambda s: s.rank, default=Severity.NORMAL)
    open_count = sum(1 for c in cards if c.status is AlertStatus.OPEN)
    where = f" for {team_name}" if team_name else ""
    title = f"{SEVERITY_EMOJI[worst]} {len(cards)} hot alerts arrived together{where} ({open_count} open)"
    keys = ", ".join(c.alert_key for c in cards)
    return DigestCard(title=title, items=items, fallback_text=f"{len(cards)} hot alerts: {keys}")


# The delivery worker holds no session: these open their own.


async def render_card(
    sessions: SessionFactory, *, alert_id: int, audience: str, now: datetime
) -> Card | None:
    async with sessions() as session:
        return await load_card(session, alert_id=alert_id, audience=audience, now=now)


async def render_cards(
    sessions: SessionFactory, *, alert_ids: Sequence[int], audience: str, now: datetime
) -> dict[int, Card]:
    async with sessions() as session:
        return await load_cards(session, alert_ids=alert_ids, audience=audience, now=now)


async def render_places(
    sessions: SessionFactory, *, places: Sequence[CardRef], now: datetime
) -> list[Card | list[Card] | None]:
    """What each place shows now, read in one session: the alert's own card, or for a digest message
    the card of every alert it lists; None when the alert is gone."""
    async with sessions() as session:
        return [await _render_place(session, place, now) for place in places]


async def _render_place(session: AsyncSession, place: CardRef, now: datetime) -> Card | list[Card] | None:
    if place.audience != "digest":
        return await load_card(session, alert_id=place.alert_id, audience=place.audience, now=now)
    order = await outbox_queries.digest_alert_ids(
        session, platform=place.platform, channel=place.channel, message_id=place.message_id
    )
    cards = await load_cards(session, alert_ids=order, audience="digest", now=now)
    return [cards[alert_id] for alert_id in order if alert_id in cards]
