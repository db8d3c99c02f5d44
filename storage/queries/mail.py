"""E-mail to customers: the acknowledgement sweep's reads and writes, the suppression list, and what
the e-mail handler checks and records around a send. Keyword-only; callers own the session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Alert, Feedback, MailSuppression, Outbox, Source, Team


@dataclass(frozen=True)
class TeamMailRow:
    id: int
    name: str
    timezone: str
    mail: dict[str, Any] | None


@dataclass(frozen=True)
class DueAck:
    """An alert whose acknowledgement is due, with what deciding and writing it needs."""

    alert_id: int
    key: str | None
    team_id: int
    created_at: datetime
    ack_due_at: datetime
    claim_due_at: datetime | None
    resolve_due_at: datetime | None
    first_contact_at: datetime | None
    acknowledged_at: datetime | None
    email: str | None
    customer_name: str | None
    contact_requested: bool
    attributes: dict[str, str]
    source_mapping: dict[str, Any]


async def team_mail_rows(session: AsyncSession) -> dict[int, TeamMailRow]:
    query = select(col(Team.id), col(Team.name), col(Team.timezone), col(Team.mail))
    return {
        team_id: TeamMailRow(team_id, name, timezone, mail)
        for team_id, name, timezone, mail in (await session.execute(query)).tuples()
        if team_id is not None
    }


async def unscheduled_acks(session: AsyncSession, *, limit: int) -> list[tuple[int, int, datetime]]:
    """(alert id, team id, created at) of alerts the acknowledgement sweep has not looked at yet."""
    query = (
        select(col(Alert.id), col(Alert.team_id), col(Alert.created_at))
        .where(col(Alert.ack_status).is_(None))
        .order_by(col(Alert.id))
        .limit(limit)
    )
    return [(a, t, c) for a, t, c in (await session.execute(query)).tuples() if a is not None]


async def set_ack_due(session: AsyncSession, *, due: Sequence[tuple[int, datetime]]) -> None:
    """Each (alert id, when its acknowledgement is due): status `waiting`."""
    if not due:
        return
    table = Alert.__table__  # type: ignore[attr-defined]
    stmt = update(table).where(table.c.id == bindparam("_id")).values(
        ack_status="waiting", ack_due_at=bindparam("_due")
    )
    await session.execute(stmt, [{"_id": alert_id, "_due": at} for alert_id, at in due])


async def set_ack_status(session: AsyncSession, *, statuses: Mapping[int, str]) -> None:
    """Each alert's new `ack_status` (one UPDATE per status)."""
    by_status: dict[str, list[int]] = {}
    for alert_id, status in statuses.items():
        by_status.setdefault(status, []).append(alert_id)
    for status, ids in by_status.items():
        await session.execute(update(Alert).where(col(Alert.id).in_(ids)).values(ack_status=status))


async def take_due_acks(session: AsyncSession, *, now: datetime, limit: int) -> list[DueAck]:
    """Alerts waiting for their acknowledgement whose time has come, oldest first; on PostgreSQL their
    rows stay locked until the caller commits, and rows another worker holds are skipped."""
    query = (
        select(Alert, Feedback, col(Source.mapping))
        .join(Feedback, col(Feedback.id) == col(Alert.feedback_id))
        .join(Source, col(Source.id) == col(Feedback.source_id))
        .where(col(Alert.ack_status) == "waiting", col(Alert.ack_due_at) <= now)
        .order_by(col(Alert.ack_due_at))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Alert)
    found = []
    for alert, feedback, mapping in (await session.execute(query)).tuples():
        assert alert.id is not None and alert.ack_due_at is not None
        found.append(DueAck(
            alert_id=alert.id, key=alert.key, team_id=alert.team_id, created_at=alert.created_at,
            ack_due_at=alert.ack_due_at, claim_due_at=alert.claim_due_at, resolve_due_at=alert.resolve_due_at,
            first_contact_at=alert.first_contact_at, acknowledged_at=alert.acknowledged_at,
            email=feedback.customer_email, customer_name=feedback.customer_name,
            contact_requested=feedback.contact_requested, attributes=dict(feedback.attributes or {}),
            source_mapping=dict(mapping or {}),
        ))
    return found


async def contact_facts(
    session: AsyncSession, *, alert_id: int
) -> tuple[datetime | None, datetime | None] | None:
    """(first contact, acknowledged) of an alert; None when it is gone."""
    query = select(col(Alert.first_contact_at), col(Alert.acknowledged_at)).where(col(Alert.id) == alert_id)
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def suppressed(session: AsyncSession, *, hashes: Sequence[str]) -> set[str]:
    """Which of these address hashes are on the suppression list."""
    if not hashes:
        return set()
    stored = col(MailSuppression.address_hash)
    query = select(stored).where(stored.in_(set(hashes)))
    return set((await session.execute(query)).scalars())


async def add_suppression(session: AsyncSession, *, address_hash: str, reason: str, now: datetime) -> bool:
    """Put an address hash on the list; False when it was there already (the first reason stays)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(MailSuppression)
        .values(address_hash=address_hash, reason=reason, created_at=now)
        .on_conflict_do_nothing(index_elements=["address_hash"])
        .returning(col(MailSuppression.id))
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def finish_outbox_row(
    session: AsyncSession, *, row_id: int, now: datetime, note: str | None = None
) -> None:
    """Mark an e-mail row done in the transaction that records what its send did, so a crash right after
    leaves no row to send again."""
    await session.execute(
        update(Outbox).where(col(Outbox.id) == row_id).values(status="done", done_at=now, last_error=note)
    )
