"""An alert's whole story for its dashboard page, in time order: its events (claim, note, resolve …),
the lines posted in its chat threads, the e-mails written to the customer and the customer's answers to
"did we fix it?". Three reads by alert id (AlertEvent.alert_id and FollowUp.alert_id are indexed;
outbox rows are read by alert id and kind). Keyword-only; callers own the session.

E-mail rows carry the customer's address: only the purpose, subject and status leave this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Alert, AlertEvent, FollowUp, Outbox

THREAD_KIND = "thread.reply"
EMAIL_KIND = "email.send"
TIMELINE_MAX = 500  # rows per source: a page never grows without bound


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # "event" | "thread" | "email" | "answer"
    title: str  # the event's kind ("claimed"), "Thread", "E-mail: reply", "Customer answered"
    text: str | None  # what was said (customer or agent text: escaped by the page)
    actor: str | None = None
    status: str | None = None  # an e-mail's delivery: pending | done | failed
    order: int = 0  # ties at one instant keep their write order


def _event(row: AlertEvent) -> TimelineEntry:
    data: dict[str, Any] = dict(row.data or {})
    details = [f"{name}: {value}" for name, value in sorted(data.items())
               if isinstance(value, str | int | float) and not isinstance(value, bool)]
    return TimelineEntry(at=row.at, kind="event", title=row.kind.replace("_", " "),
                         text=" · ".join(details) or None, actor=row.actor_name or row.actor_id,
                         order=row.id or 0)


def _outbox(row: Outbox) -> TimelineEntry:
    payload: dict[str, Any] = dict(row.payload or {})
    if row.kind == THREAD_KIND:
        return TimelineEntry(at=row.created_at, kind="thread", title="Thread",
                             text=str(payload.get("text") or ""), order=row.id or 0)
    purpose = str(payload.get("purpose") or "e-mail")
    sent = "sent" if row.status == "done" else row.status
    return TimelineEntry(at=row.done_at or row.created_at, kind="email", title=f"E-mail: {purpose}",
                         text=str(payload.get("subject") or "") or None, status=sent, order=row.id or 0)


def _answer(row: FollowUp) -> list[TimelineEntry]:
    """The customer's answer (the e-mail that asked is an `email.send` row already)."""
    if row.answered_at is None:
        return []
    verdict = {True: "fixed", False: "not fixed", None: "no answer"}[row.resolved]
    score = f" · score {row.score}" if row.score is not None else ""
    return [TimelineEntry(at=row.answered_at, kind="answer", title=f"Customer answered: {verdict}{score}",
                          text=row.comment, order=row.id or 0)]


async def timeline(session: AsyncSession, *, alert_id: int) -> list[TimelineEntry]:
    """Everything that happened to alert `alert_id`, oldest first."""
    events = (await session.execute(
        select(AlertEvent).where(col(AlertEvent.alert_id) == alert_id).order_by(col(AlertEvent.id))
        .limit(TIMELINE_MAX))).scalars().all()
    outbox = (await session.execute(
        select(Outbox)
        .where(col(Outbox.alert_id) == alert_id, col(Outbox.kind).in_((THREAD_KIND, EMAIL_KIND)))
        .order_by(col(Outbox.id)).limit(TIMELINE_MAX))).scalars().all()
    answers = (await session.execute(
        select(FollowUp).where(col(FollowUp.alert_id) == alert_id).order_by(col(FollowUp.id))
        .limit(TIMELINE_MAX))).scalars().all()
    entries = [_event(row) for row in events] + [_outbox(row) for row in outbox]
    entries += [entry for row in answers for entry in _answer(row)]
    rank = {"event": 0, "thread": 1, "email": 2, "answer": 3}
    return sorted(entries, key=lambda e: (e.at, rank[e.kind], e.order))


@dataclass(frozen=True)
class AlertChange:
    """One new alert event, as the dashboard's live stream announces it."""

    event_id: int
    key: str
    version: int
    status: str
    team_id: int


async def latest_event_id(session: AsyncSession) -> int:
    """The newest alert event's id (0 when there is none): the live stream starts after it."""
    return int((await session.execute(select(func.max(col(AlertEvent.id))))).scalar_one_or_none() or 0)


async def events_after(session: AsyncSession, *, after_id: int, limit: int) -> list[AlertChange]:
    """Alert events newer than `after_id`, oldest first, with their alert's key, version, status, team
    (the primary key's range: one index scan however long the history)."""
    query = (
        select(col(AlertEvent.id), col(Alert.key), col(Alert.version), col(Alert.status), col(Alert.team_id))
        .join(Alert, col(Alert.id) == col(AlertEvent.alert_id))
        .where(col(AlertEvent.id) > after_id)
        .order_by(col(AlertEvent.id))
        .limit(limit)
    )
    return [AlertChange(event_id or 0, key or "", version, status, team_id)
            for event_id, key, version, status, team_id in (await session.execute(query)).tuples()]
