"""What the hourly retention job deletes: delivered outbox rows, and the record of handled chat
deliveries once no platform could still retry or replay them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.db import SessionFactory, transaction
from storage.models import AlertSignal, Outbox, SignalDay, WebhookDelivery


async def delete_finished_outbox(session: AsyncSession, *, before: datetime) -> int:
    stmt = delete(Outbox).where(col(Outbox.status).in_(("done", "coalesced")), col(Outbox.done_at) < before)
    result = cast("CursorResult[Any]", await session.execute(stmt))
    return int(result.rowcount or 0)


async def delete_webhook_deliveries(session: AsyncSession, *, before: datetime) -> int:
    stmt = delete(WebhookDelivery).where(col(WebhookDelivery.received_at) < before)
    result = cast("CursorResult[Any]", await session.execute(stmt))
    return int(result.rowcount or 0)


async def delete_old_signals(session: AsyncSession, *, before: datetime, days_before: datetime) -> int:
    """The systemic detector's signals older than `before` (past its longest window) and its day counts
    older than `days_before` (past its 28-day baseline); → signals deleted."""
    result = cast("CursorResult[Any]", await session.execute(
        delete(AlertSignal).where(col(AlertSignal.at) < before)))
    await session.execute(delete(SignalDay).where(col(SignalDay.day) < days_before.strftime("%Y-%m-%d")))
    return int(result.rowcount or 0)


async def purge_old_rows(
    sessions: SessionFactory, *, outbox_before: datetime, deliveries_before: datetime,
    signals_before: datetime | None = None, signal_days_before: datetime | None = None,
) -> int:
    """The deletes in one transaction; returns the outbox rows deleted. Signals are purged only when
    both their cut-offs are given."""
    async with transaction(sessions) as session:
        deleted = await delete_finished_outbox(session, before=outbox_before)
        await delete_webhook_deliveries(session, before=deliveries_before)
        if signals_before is not None and signal_days_before is not None:
            await delete_old_signals(session, before=signals_before, days_before=signal_days_before)
    return deleted
