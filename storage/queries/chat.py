"""What the chat adapters keep: handled deliveries (each signed click, form, command or event acts
once), Teams conversation references, and which card a message is. Callers own the session and the
transaction (bot/chat/state.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Alert, CardRef, Conversation, WebhookDelivery


def _insert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT (it has ON CONFLICT on both SQLite and PostgreSQL)."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def insert_delivery_if_new(
    session: AsyncSession, *, platform: str, delivery_id: str, now: datetime
) -> bool:
    """Record a delivery; False when (platform, delivery id) was recorded before. One round trip: two
    racing inserts of the same id get exactly one True."""
    stmt = (
        _insert_for(session)(WebhookDelivery)
        .values(platform=platform, delivery_id=delivery_id, received_at=now)
        .on_conflict_do_nothing(index_elements=["platform", "delivery_id"])
        .returning(col(WebhookDelivery.id))
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def upsert_conversation(
    session: AsyncSession,
    *,
    platform: str,
    conversation_id: str,
    reference: dict[str, Any],
    name: str | None,
    now: datetime,
) -> None:
    """Store a conversation reference, or refresh it (a missing name keeps the one stored)."""
    table = Conversation.__table__  # type: ignore[attr-defined]
    stmt = _insert_for(session)(Conversation).values(
        platform=platform, conversation_id=conversation_id, reference=reference, name=name, updated_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["platform", "conversation_id"],
        set_={
            "reference": stmt.excluded.reference,
            "name": func.coalesce(stmt.excluded.name, table.c.name),
            "updated_at": stmt.excluded.updated_at,
        },
    )
    await session.execute(stmt)


async def conversation_reference(
    session: AsyncSession, *, platform: str, conversation_id: str
) -> dict[str, Any] | None:
    query = select(col(Conversation.reference)).where(
        col(Conversation.platform) == platform, col(Conversation.conversation_id) == conversation_id
    )
    row = (await session.execute(query)).scalar_one_or_none()
    return row if isinstance(row, dict) else None


async def newest_conversation_reference(session: AsyncSession, *, platform: str) -> dict[str, Any] | None:
    """The reference of the conversation heard from last on `platform`."""
    query = (
        select(col(Conversation.reference))
        .where(col(Conversation.platform) == platform)
        .order_by(col(Conversation.updated_at).desc())
        .limit(1)
    )
    row = (await session.execute(query)).scalar_one_or_none()
    return row if isinstance(row, dict) else None


async def card_audience(
    session: AsyncSession, *, alert_id: int, platform: str, message_id: str
) -> str | None:
    """The audience (team, managers, digest) of the card `message_id` shows for this alert, if it is one."""
    query = select(col(CardRef.audience)).where(
        col(CardRef.alert_id) == alert_id,
        col(CardRef.platform) == platform,
        col(CardRef.message_id) == message_id,
    )
    audience = (await session.execute(query)).scalars().first()
    return str(audience) if audience is not None else None


async def count_active_owned(session: AsyncSession, *, owner_id: str, owner_platform: str) -> int:
    """How many unresolved alerts this person owns."""
    query = (
        select(func.count())
        .select_from(Alert)
        .where(
            col(Alert.owner_id) == owner_id,
            col(Alert.owner_platform) == owner_platform,
            col(Alert.status) != "resolved",
        )
    )
    return int((await session.execute(query)).scalar_one())
