"""Many deliveries recorded in one statement (bot/chat/deliveries.py groups them). The caller owns the
session and the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import WebhookDelivery

Delivery = tuple[str, str]  # (platform, delivery id)


async def insert_deliveries_if_new(
    session: AsyncSession, *, deliveries: Sequence[tuple[str, str, datetime]]
) -> set[Delivery]:
    """Record each (platform, delivery id, received at) not recorded before; → the (platform, delivery
    id) recorded now. One round trip for all of them; a delivery racing another transaction's insert
    is recorded by exactly one of them."""
    unique: dict[Delivery, datetime] = {}
    for platform, delivery_id, received_at in deliveries:
        unique.setdefault((platform, delivery_id), received_at)
    if not unique:
        return set()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(WebhookDelivery)
        .values([{"platform": p, "delivery_id": d, "received_at": at} for (p, d), at in unique.items()])
        .on_conflict_do_nothing(index_elements=["platform", "delivery_id"])
        .returning(col(WebhookDelivery.platform), col(WebhookDelivery.delivery_id))
    )
    return {(platform, delivery_id) for platform, delivery_id in (await session.execute(stmt)).all()}
