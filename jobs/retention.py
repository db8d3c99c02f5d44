"""Keep the outbox small: delivered rows older than a week are deleted (the audit log keeps history)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete
from sqlmodel import col

from bot.domain import utcnow
from storage.db import SessionFactory, transaction
from storage.models import Outbox


async def purge_finished_outbox(
    sessions: SessionFactory, *, older_than: timedelta = timedelta(days=7)
) -> int:
    cutoff = utcnow() - older_than
    async with transaction(sessions) as session:
        stmt = delete(Outbox).where(
            col(Outbox.status).in_(("done", "coalesced")), col(Outbox.done_at) < cutoff
        )
        result = cast("CursorResult[Any]", await session.execute(stmt))
    return int(result.rowcount or 0)
