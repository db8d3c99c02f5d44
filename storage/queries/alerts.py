"""Alert reads and writes for the one alert writer (`bot/alerts/writer.py`), the SLA sweep and ingest.

Keyword-only; callers own the session and the transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Alert, AlertEvent


async def lock_alert_versions(session: AsyncSession, *, alert_ids: Sequence[int]) -> dict[int, int]:
    """The committed version of each alert, held until the transaction ends: `FOR UPDATE` on
    PostgreSQL (in id order, so two writers never deadlock); SQLite's `BEGIN IMMEDIATE` already
    holds the one write lock (SQLAlchemy renders no FOR UPDATE there)."""
    if not alert_ids:
        return {}
    query = (
        select(col(Alert.id), col(Alert.version))
        .where(col(Alert.id).in_(sorted(set(alert_ids))))
        .order_by(col(Alert.id))
        .with_for_update()
    )
    rows = (await session.execute(query)).tuples()
    return {alert_id: version for alert_id, version in rows if alert_id is not None}


async def compare_and_set_alerts(
    session: AsyncSession, *, writes: Sequence[tuple[int, int, Mapping[str, Any]]]
) -> int | None:
    """`UPDATE alert SET … WHERE id = :id AND version = :expected` for each (id, expected version,
    new values), one executemany per set of columns. → rows matched, or None when the driver cannot
    count an executemany (asyncpg)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for alert_id, expected, values in writes:
        groups[tuple(sorted(values))].append({**values, "_id": alert_id, "_expected": expected})
    table = Alert.__table__  # type: ignore[attr-defined]
    guard = (table.c.id == bindparam("_id"), table.c.version == bindparam("_expected"))
    matched: int | None = 0
    for names, rows in groups.items():
        stmt = update(table).where(*guard).values({name: bindparam(name) for name in names})
        result = cast("CursorResult[Any]", await session.execute(stmt, rows))
        count = result.rowcount
        matched = None if matched is None or count < 0 else matched + count
    return matched


async def reload_alert(session: AsyncSession, *, alert_id: int) -> Alert | None:
    """The alert as committed now, replacing what this session holds (after losing a race)."""
    query = select(Alert).where(col(Alert.id) == alert_id).execution_options(populate_existing=True)
    return (await session.execute(query)).scalar_one_or_none()


async def take_due_alerts(
    session: AsyncSession, *, statuses: Sequence[str], now: datetime, batch: int
) -> list[Alert]:
    """Alerts whose `next_due_at` has passed, oldest first: one index range per status on
    ix_alert_active_due; skipped when another worker holds them (PostgreSQL `SKIP LOCKED`)."""
    found: list[Alert] = []
    for status in statuses:
        query = (select(Alert).where(col(Alert.status) == status, col(Alert.next_due_at) <= now)
                 .order_by(col(Alert.next_due_at)).limit(batch))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        found.extend((await session.execute(query)).scalars().all())
    found.sort(key=lambda a: a.next_due_at or now)
    return found[:batch]


async def alert_event_facts(
    session: AsyncSession, *, alert_ids: Sequence[int], kinds: Sequence[str]
) -> list[tuple[int, str, datetime, dict[str, Any]]]:
    """(alert id, kind, at, data) of these alerts' events of these kinds, oldest first."""
    if not alert_ids:
        return []
    columns = (col(AlertEvent.alert_id), col(AlertEvent.kind), col(AlertEvent.at), col(AlertEvent.data))
    wanted = (col(AlertEvent.alert_id).in_(alert_ids), col(AlertEvent.kind).in_(kinds))
    query = select(*columns).where(*wanted).order_by(col(AlertEvent.id))
    return [(alert_id, kind, at, dict(data or {})) for alert_id, kind, at, data in
            (await session.execute(query)).tuples()]
