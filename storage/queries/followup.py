"""'Did we fix it?': the follow-up sweep's reads and writes on alerts, and the `followup` rows its links
name. Keyword-only; callers own the session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Alert, Feedback, FollowUp, Source

ASKED = ("asked", "unasked")  # what resolving leaves for the sweep (bot/alerts/lifecycle.py plan_resolve)


@dataclass(frozen=True)
class ResolvedAlert:
    """A resolved alert the sweep has not scheduled yet."""

    alert_id: int
    team_id: int
    resolved_at: datetime
    asked: bool  # the resolver ticked Follow-up
    outcome: str | None
    nps: int | None


@dataclass(frozen=True)
class DueFollowUp:
    """An alert whose follow-up is due, with what deciding and writing it needs."""

    alert_id: int
    key: str | None
    team_id: int
    due_at: datetime
    still_resolved: bool
    email: str | None
    customer_name: str | None
    attributes: dict[str, str]
    source_mapping: dict[str, Any]


async def unscheduled(session: AsyncSession, *, limit: int) -> list[ResolvedAlert]:
    query = (
        select(col(Alert.id), col(Alert.team_id), col(Alert.resolved_at), col(Alert.follow_up_status),
               col(Alert.outcome), col(Feedback.nps))
        .join(Feedback, col(Feedback.id) == col(Alert.feedback_id))
        .where(col(Alert.follow_up_status).in_(ASKED), col(Alert.status) == "resolved")
        .order_by(col(Alert.id))
        .limit(limit)
    )
    return [
        ResolvedAlert(alert_id, team_id, resolved_at, status == "asked", outcome, nps)
        for alert_id, team_id, resolved_at, status, outcome, nps in (await session.execute(query)).tuples()
        if alert_id is not None and resolved_at is not None
    ]


async def set_due(session: AsyncSession, *, due: Sequence[tuple[int, datetime]]) -> None:
    """Each (alert id, when its follow-up is due): status `waiting`."""
    if not due:
        return
    table = Alert.__table__  # type: ignore[attr-defined]
    stmt = update(table).where(table.c.id == bindparam("_id")).values(
        follow_up_status="waiting", follow_up_due_at=bindparam("_due")
    )
    await session.execute(stmt, [{"_id": alert_id, "_due": at} for alert_id, at in due])


async def set_status(session: AsyncSession, *, statuses: Mapping[int, str]) -> None:
    by_status: dict[str, list[int]] = {}
    for alert_id, status in statuses.items():
        by_status.setdefault(status, []).append(alert_id)
    for status, ids in by_status.items():
        await session.execute(update(Alert).where(col(Alert.id).in_(ids)).values(follow_up_status=status))


async def take_due(session: AsyncSession, *, now: datetime, limit: int) -> list[DueFollowUp]:
    """Alerts waiting for their follow-up whose time has come, oldest first; locked on PostgreSQL until
    the caller commits (rows another worker holds are skipped)."""
    query = (
        select(Alert, Feedback, col(Source.mapping))
        .join(Feedback, col(Feedback.id) == col(Alert.feedback_id))
        .join(Source, col(Source.id) == col(Feedback.source_id))
        .where(col(Alert.follow_up_status) == "waiting", col(Alert.follow_up_due_at) <= now)
        .order_by(col(Alert.follow_up_due_at))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Alert)
    found = []
    for alert, feedback, mapping in (await session.execute(query)).tuples():
        assert alert.id is not None and alert.follow_up_due_at is not None
        found.append(DueFollowUp(
            alert_id=alert.id, key=alert.key, team_id=alert.team_id, due_at=alert.follow_up_due_at,
            still_resolved=alert.status == "resolved",
            email=feedback.customer_email, customer_name=feedback.customer_name,
            attributes=dict(feedback.attributes or {}), source_mapping=dict(mapping or {}),
        ))
    return found


async def asked_since(session: AsyncSession, *, hashes: Sequence[str], since: datetime) -> set[str]:
    """Which of these address hashes were sent a follow-up after `since`."""
    if not hashes:
        return set()
    stored = col(FollowUp.address_hash)
    query = select(stored).where(stored.in_(set(hashes)), col(FollowUp.created_at) > since)
    return set((await session.execute(query)).scalars())


async def by_nonce(session: AsyncSession, *, nonce: str) -> FollowUp | None:
    return (await session.execute(select(FollowUp).where(col(FollowUp.nonce) == nonce))).scalar_one_or_none()


async def mark_sent(session: AsyncSession, *, alert_id: int, now: datetime) -> None:
    """The follow-up e-mail of this alert was accepted by the SMTP server."""
    await session.execute(
        update(FollowUp).where(col(FollowUp.alert_id) == alert_id, col(FollowUp.sent_at).is_(None))
        .values(sent_at=now)
    )


async def record_answer(
    session: AsyncSession, *, follow_up_id: int, now: datetime, resolved: bool, score: int | None,
    comment: str | None,
) -> bool:
    """The one answer a follow-up takes (compare-and-set on `answered_at`); False when it had one."""
    stmt = (
        update(FollowUp)
        .where(col(FollowUp.id) == follow_up_id, col(FollowUp.answered_at).is_(None))
        .values(answered_at=now, resolved=resolved, score=score, comment=comment)
        .returning(col(FollowUp.id))
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def still_resolved(session: AsyncSession, *, alert_id: int) -> bool:
    status = (await session.execute(select(col(Alert.status)).where(col(Alert.id) == alert_id))).scalar()
    return status == "resolved"
