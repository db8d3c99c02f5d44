"""What the closed-loop figures (`/hotloop stats`, App Home) and the daily digest read: alerts by team
and status, the oldest waiting ones, and the digest rows already written. Callers own the session."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Alert, AlertEvent, Feedback, FollowUp, Outbox, Team


async def alerts_raised_since(
    session: AsyncSession, *, since: datetime, team: str | None = None
) -> Sequence[tuple[Alert, str]]:
    """Every alert raised since `since` about a response (not a systemic issue: those are counted
    apart, `systemic_raised_since`) with its team's name (only team `team`'s when given)."""
    query = (
        select(Alert, col(Team.name))
        .join(Team, col(Team.id) == col(Alert.team_id))
        .where(col(Alert.created_at) >= since, col(Alert.kind) == "response")
    )
    if team:
        query = query.where(col(Team.name) == team)
    return (await session.execute(query)).tuples().all()


async def systemic_raised_since(session: AsyncSession, *, since: datetime) -> Counter[str]:
    """Systemic issues opened since `since`, by team name."""
    query = (
        select(col(Team.name), func.count())
        .select_from(Alert)
        .join(Team, col(Team.id) == col(Alert.team_id))
        .where(col(Alert.created_at) >= since, col(Alert.kind) == "systemic")
        .group_by(col(Team.name))
    )
    return Counter(dict((await session.execute(query)).tuples().all()))


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


@dataclass(frozen=True)
class CustomerLoop:
    """What the customer-facing figures read about alerts raised since a time, by alert id."""

    contact_requested: set[int]
    follow_ups: dict[int, tuple[bool, bool, bool | None]]  # alert id → (sent, answered, confirmed)
    reopened_by_customer: set[int]


async def customer_loop_since(session: AsyncSession, *, since: datetime) -> CustomerLoop:
    """Contact requests, follow-up answers (the `followup` table) and reopenings by the customer (the
    `reopened_by_customer` event) of the alerts raised since `since`."""
    raised = col(Alert.created_at) >= since
    requested = await session.execute(
        select(col(Alert.id)).join(Feedback, col(Feedback.id) == col(Alert.feedback_id))
        .where(raised, col(Feedback.contact_requested).is_(True))
    )
    follow_ups: dict[int, tuple[bool, bool, bool | None]] = {}
    rows = await session.execute(
        select(col(FollowUp.alert_id), col(FollowUp.sent_at), col(FollowUp.answered_at),
               col(FollowUp.resolved), col(FollowUp.score))
        .join(Alert, col(Alert.id) == col(FollowUp.alert_id)).where(raised).order_by(col(FollowUp.id))
    )
    for alert_id, sent_at, answered_at, resolved, score in rows.tuples():
        # a "yes" with a score of 6 or less reopened the alert: not a confirmed recovery
        confirmed = None if resolved is None else bool(resolved) and (score is None or score > 6)
        follow_ups[alert_id] = (sent_at is not None, answered_at is not None, confirmed)  # the latest one
    reopened = await session.execute(
        select(col(AlertEvent.alert_id)).join(Alert, col(Alert.id) == col(AlertEvent.alert_id))
        .where(raised, col(AlertEvent.kind) == "reopened_by_customer")
    )
    return CustomerLoop(contact_requested={i for i in requested.scalars() if i is not None},
                        follow_ups=follow_ups, reopened_by_customer=set(reopened.scalars()))
