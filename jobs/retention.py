"""Keep the working tables small: delivered outbox rows older than a week are deleted (the audit log
keeps history), and so are handled-delivery records (Slack event ids, signed-interaction and Teams
activity keys) older than two days — Slack refuses a signature older than 5 minutes and retries an
event for about an hour, so a replay or retry that old can no longer arrive."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import utcnow
from storage.db import SessionFactory, transaction
from storage.retention import delete_finished_outbox, delete_webhook_deliveries

DELIVERY_RECORDS_KEPT = timedelta(days=2)


async def purge_finished_outbox(
    sessions: SessionFactory, *, older_than: timedelta = timedelta(days=7)
) -> int:
    """Returns the outbox rows deleted (the delivery records are purged in the same run)."""
    now = utcnow()
    async with transaction(sessions) as session:
        deleted = await delete_finished_outbox(session, before=now - older_than)
        await delete_webhook_deliveries(session, before=now - DELIVERY_RECORDS_KEPT)
    return deleted
