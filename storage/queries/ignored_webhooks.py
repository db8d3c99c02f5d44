"""Webhooks answered 2xx without being stored, counted per UTC day, source and reason (IgnoredWebhook).

One upsert per ignored webhook (`INSERT … ON CONFLICT DO UPDATE`, on SQLite and PostgreSQL alike), so
concurrent requests never race to create the day's row. Callers own the session and the transaction,
except for `count_ignored_webhook`, which is one on its own (the webhook route has no session).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.db import SessionFactory, transaction
from storage.models import IgnoredWebhook


@dataclass(frozen=True)
class IgnoredCount:
    source: str
    reason: str
    count: int
    last_at: datetime


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


async def record_ignored_webhook(session: AsyncSession, *, source: str, reason: str, now: datetime) -> None:
    """Count one ignored webhook in today's (UTC) row for this source and reason."""
    insert: Any = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = IgnoredWebhook.__table__  # type: ignore[attr-defined]
    stmt = insert(IgnoredWebhook).values(day=_day(now), source=source, reason=reason, count=1, last_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "source", "reason"],
        set_={"count": table.c["count"] + 1, "last_at": stmt.excluded.last_at},
    )
    await session.execute(stmt)


async def count_ignored_webhook(sessions: SessionFactory, *, source: str, reason: str, now: datetime) -> None:
    """`record_ignored_webhook` in a transaction of its own."""
    async with transaction(sessions) as session:
        await record_ignored_webhook(session, source=source, reason=reason, now=now)


async def ignored_webhook_counts(session: AsyncSession, *, since: datetime) -> list[IgnoredCount]:
    """Per source and reason, from the day of `since` on (whole UTC days), most frequent first."""
    total = func.sum(col(IgnoredWebhook.count))
    last = func.max(col(IgnoredWebhook.last_at))
    query = (
        select(col(IgnoredWebhook.source), col(IgnoredWebhook.reason), total, last)
        .where(col(IgnoredWebhook.day) >= _day(since))
        .group_by(col(IgnoredWebhook.source), col(IgnoredWebhook.reason))
        .order_by(total.desc(), col(IgnoredWebhook.source))
    )
    rows = (await session.execute(query)).all()
    return [IgnoredCount(source, reason, int(count), last) for source, reason, count, last in rows]
