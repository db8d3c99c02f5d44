"""Keep the outbox small: delivered rows older than a week are deleted (the audit log keeps history)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from bot.domain import utcnow
from storage.db import SessionFactory, transaction
from storage.models import Outbox


async def purge_finished_outbox(sessions: SessionFactory, *, older_than: timedelta = timedelta(days=7)) -> int:
    cutoff = utcnow() - older_than
    async with transaction(sessions) as session:
        result = await session.execute(
            delete(Outbox).where(Outbox.status.in_(("done", "coalesced")), Outbox.done_at < cutoff)  # type: ignore[attr-defined,operator]
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
