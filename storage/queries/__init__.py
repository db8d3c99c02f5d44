"""Keyword-only query functions. Callers own the session and the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from storage.models import (
    Admin,
    Alert,
    AlertEvent,
    CardRef,
    EscalationStep,
    Feedback,
    Outbox,
    Route,
    Rule,
    SlaPolicy,
    Source,
    Team,
)


async def get_source(session: AsyncSession, *, name: str) -> Source | None:
    return (await session.execute(select(Source).where(col(Source.name) == name))).scalar_one_or_none()


async def list_sources(session: AsyncSession) -> Sequence[Source]:
    return (await session.execute(select(Source).order_by(col(Source.name)))).scalars().all()


async def find_feedback(session: AsyncSession, *, source_id: int, external_id: str) -> Feedback | None:
    query = select(Feedback).where(
        col(Feedback.source_id) == source_id, col(Feedback.external_id) == external_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def get_alert(session: AsyncSession, *, key: str) -> Alert | None:
    return (await session.execute(select(Alert).where(col(Alert.key) == key))).scalar_one_or_none()


async def get_alert_by_id(session: AsyncSession, *, alert_id: int) -> Alert | None:
    return await session.get(Alert, alert_id)


async def alert_for_feedback(session: AsyncSession, *, feedback_id: int) -> Alert | None:
    query = select(Alert).where(col(Alert.feedback_id) == feedback_id)
    return (await session.execute(query)).scalar_one_or_none()


async def get_team(session: AsyncSession, *, team_id: int) -> Team | None:
    return await session.get(Team, team_id)


async def get_team_by_name(session: AsyncSession, *, name: str) -> Team | None:
    return (await session.execute(select(Team).where(col(Team.name) == name))).scalar_one_or_none()


async def default_team(session: AsyncSession) -> Team | None:
    query = select(Team).where(col(Team.is_default).is_(True)).order_by(col(Team.id)).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


async def list_teams(session: AsyncSession) -> Sequence[Team]:
    return (await session.execute(select(Team).order_by(col(Team.name)))).scalars().all()


async def list_routes(session: AsyncSession) -> Sequence[Route]:
    return (await session.execute(select(Route).order_by(col(Route.priority), col(Route.id)))).scalars().all()


async def list_rules(session: AsyncSession) -> Sequence[Rule]:
    return (await session.execute(select(Rule).order_by(col(Rule.priority), col(Rule.name)))).scalars().all()


async def list_sla_policies(session: AsyncSession) -> Sequence[SlaPolicy]:
    return (await session.execute(select(SlaPolicy))).scalars().all()


async def list_escalation_steps(session: AsyncSession) -> Sequence[EscalationStep]:
    query = select(EscalationStep).order_by(col(EscalationStep.team_id), col(EscalationStep.level))
    return (await session.execute(query)).scalars().all()


async def admin_pairs(session: AsyncSession) -> set[tuple[str, str]]:
    """Every admin as a (platform, user id) pair: the same id on another platform is someone else."""
    rows = (await session.execute(select(col(Admin.platform), col(Admin.user_id)))).all()
    return {(platform, user_id) for platform, user_id in rows}


async def list_admins(session: AsyncSession) -> Sequence[Admin]:
    query = select(Admin).order_by(col(Admin.platform), col(Admin.user_id), col(Admin.id))
    return (await session.execute(query)).scalars().all()


async def card_refs(session: AsyncSession, *, alert_id: int) -> Sequence[CardRef]:
    query = select(CardRef).where(col(CardRef.alert_id) == alert_id).order_by(col(CardRef.id))
    return (await session.execute(query)).scalars().all()


async def alert_events(session: AsyncSession, *, alert_id: int) -> Sequence[AlertEvent]:
    query = select(AlertEvent).where(col(AlertEvent.alert_id) == alert_id).order_by(col(AlertEvent.id))
    return (await session.execute(query)).scalars().all()


async def list_alerts(
    session: AsyncSession,
    *,
    status: str | None = None,
    team_id: int | None = None,
    owner_id: str | None = None,
    owner_platform: str | None = None,
    active_only: bool = False,
    limit: int = 100,
) -> Sequence[Alert]:
    query = select(Alert).order_by(col(Alert.id).desc()).limit(limit)
    if status:
        query = query.where(col(Alert.status) == status)
    if active_only:
        query = query.where(col(Alert.status) != "resolved")
    if team_id is not None:
        query = query.where(col(Alert.team_id) == team_id)
    if owner_id is not None:
        query = query.where(col(Alert.owner_id) == owner_id)
    if owner_platform is not None:
        query = query.where(col(Alert.owner_platform) == owner_platform)
    return (await session.execute(query)).scalars().all()


async def outbox_depth(session: AsyncSession) -> int:
    query = select(func.count()).select_from(Outbox).where(col(Outbox.status) == "pending")
    return int((await session.execute(query)).scalar_one())


def _insert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT (it has ON CONFLICT on both SQLite and PostgreSQL)."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def insert_feedback_if_new(session: AsyncSession, *, values: dict[str, Any]) -> int | None:
    """Insert a response; None when (source, external id) is already there. One round trip, no race."""
    stmt = (
        _insert_for(session)(Feedback)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["source_id", "external_id"])
        .returning(col(Feedback.id))
    )
    return cast("int | None", (await session.execute(stmt)).scalar_one_or_none())


# Bulk writes for the ingest group commit: one statement per table per batch, not one per row.


async def insert_feedback_many(
    session: AsyncSession, *, rows: Sequence[dict[str, Any]]
) -> dict[tuple[int, str], int]:
    """Insert responses, skipping known (source, external id); → id of each row that was new."""
    if not rows:
        return {}
    table = Feedback.__table__  # type: ignore[attr-defined]
    stmt = (
        _insert_for(session)(table)
        .on_conflict_do_nothing(index_elements=["source_id", "external_id"])
        .returning(table.c.id, table.c.source_id, table.c.external_id)
    )
    result = await session.execute(stmt, list(rows))
    return {(source_id, external_id): row_id for row_id, source_id, external_id in result.all()}


async def insert_alerts_many(session: AsyncSession, *, rows: Sequence[dict[str, Any]]) -> dict[int, int]:
    """Insert alerts; → alert id by feedback id (1:1)."""
    if not rows:
        return {}
    table = Alert.__table__  # type: ignore[attr-defined]
    stmt = insert(table).returning(table.c.id, table.c.feedback_id)
    result = await session.execute(stmt, list(rows))
    return {feedback_id: alert_id for alert_id, feedback_id in result.all()}


async def insert_many(
    session: AsyncSession, *, model: type[SQLModel], rows: Sequence[dict[str, Any]]
) -> None:
    """Rows of one table in one statement (Core executemany: no ORM objects); each row gives every
    column without a server default."""
    if rows:
        await session.execute(insert(model.__table__), list(rows))  # type: ignore[attr-defined]


# Delivery health (`/hotloop status`)


async def outbox_finished_counts(session: AsyncSession, *, since: datetime) -> dict[str, int]:
    """Outbox rows finished since `since`, by status (done, failed, coalesced)."""
    query = (
        select(col(Outbox.status), func.count())
        .where(col(Outbox.done_at) >= since)
        .group_by(col(Outbox.status))
    )
    return {status: int(count) for status, count in (await session.execute(query)).all()}


async def oldest_pending_outbox(session: AsyncSession) -> datetime | None:
    query = select(func.min(col(Outbox.created_at))).where(col(Outbox.status) == "pending")
    return cast("datetime | None", (await session.execute(query)).scalar_one())


async def failure_groups(
    session: AsyncSession, *, since: datetime, limit: int = 5
) -> list[tuple[str, str, str | None, int, datetime | None]]:
    """Failed deliveries since `since` by (platform, destination, error), the most frequent first."""
    count = func.count().label("n")
    query = (
        select(col(Outbox.platform), col(Outbox.destination), col(Outbox.last_error), count,
               func.max(col(Outbox.done_at)))
        .where(col(Outbox.status) == "failed", col(Outbox.done_at) >= since)
        .group_by(col(Outbox.platform), col(Outbox.destination), col(Outbox.last_error))
        .order_by(count.desc(), func.max(col(Outbox.done_at)).desc())
        .limit(limit)
    )
    return [(p, d, e, int(n), last) for p, d, e, n, last in (await session.execute(query)).all()]
