"""What the hourly retention job deletes: delivered outbox rows, and the record of handled chat
deliveries once no platform could still retry or replay them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.db import SessionFactory, transaction
from storage.models import Outbox, WebhookDelivery


async def delete_finished_outbox(session: AsyncSession, *, before: datetime) -> int:
    stmt = delete(Outbox).where(col(Outbox.status).in_(("done", "coalesced")), col(Outbox.done_at) < before)
    result = cast("CursorResult[Any]", await session.execute(stmt))
    return int(result.rowcount or 0)


async def delete_webhook_deliveries(session: AsyncSession, *, before: datetime) -> int:
    stmt = delete(WebhookDelivery).where(col(WebhookDelivery.received_at) < before)
    result = cast("CursorResult[Any]", await session.execute(stmt))
    return int(result.rowcount or 0)


async def purge_old_rows(
    sessions: SessionFactory, *, outbox_before: datetime, deliveries_before: datetime
) -> int:
    """Both deletes in one transaction; returns the outbox rows deleted."""
    async with transaction(sessions) as session:
        deleted = await delete_finished_outbox(session, before=outbox_before)
        await delete_webhook_deliveries(session, before=deliveries_before)
    return deleted
