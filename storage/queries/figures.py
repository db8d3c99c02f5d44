"""What the closed-loop figures (`/hotloop stats`, App Home) and the daily digest read: alerts by team
and status, the oldest waiting ones, and the digest rows already written. Callers own the session."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Alert, Outbox, Team


async def alerts_raised_since(
    session: AsyncSession, *, since: datetime, team: str | None = None
) -> Sequence[tuple[Alert, str]]:
    """Every alert raised since `since` with its team's name (only team `team`'s when given)."""
    query = (
        select(Alert, col(Team.name))
        .join(Team, col(Team.id) == col(Alert.team_id))
        .where(col(Alert.created_at) >= since)
    )
    if team:
        query = query.where(col(Team.name) == team)
    return (await session.execute(query)).tuples().all()


async def unresolved_counts(session: AsyncSession) -> Counter[tuple[int, str]]:
    """Alerts not resolved yet, by (team id, status)."""
    query = (
        select(col(Alert.team_id), col(Alert.status), func.count())
        .where(col(Alert.status) != "resolved")
        .group_by(col(Alert.team_id), col(Alert.status))
    )
    return Counter({(team_id, status): n for team_id, status, n in (await session.execute(query)).tuples()})


async def breached_counts(session: AsyncSession, *, now: datetime) -> Counter[int]:
    """Alerts past their deadline at `now` (open: the claim one; claimed: the resolve one), by team id."""
    breached: Counter[int] = Counter()
    for status, due in (("open", Alert.claim_due_at), ("claimed", Alert.resolve_due_at)):
        late = await session.execute(
            select(col(Alert.team_id), func.count())
            .where(col(Alert.status) == status, col(due) < now)
            .group_by(col(Alert.team_id))
        )
        breached.update(dict(late.tuples().all()))
    return breached


async def oldest_open(session: AsyncSession, *, team_id: int, limit: int) -> Sequence[Alert]:
    """The team's open alerts that have waited longest, oldest first."""
    query = (
        select(Alert)
        .where(col(Alert.team_id) == team_id, col(Alert.status) == "open")
        .order_by(col(Alert.created_at))
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


async def lock_team(session: AsyncSession, *, team_id: int) -> None:
    """Hold the team's row until the transaction ends (PostgreSQL; SQLite's writer lock is held
    already): two servers writing the same team's digest take turns."""
    lock = select(col(Team.id)).where(col(Team.id) == team_id)
    if session.get_bind().dialect.name == "postgresql":
        lock = lock.with_for_update()
    await session.execute(lock)


async def outbox_payloads_since(session: AsyncSession, *, kind: str, since: datetime) -> list[dict[str, Any]]:
    """The payloads of the `kind` rows written since `since`, in any status."""
    query = select(col(Outbox.payload)).where(col(Outbox.kind) == kind, col(Outbox.created_at) >= since)
    return list((await session.execute(query)).scalars())
