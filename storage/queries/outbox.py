"""The delivery worker's side of the outbox: leasing due rows, writing what became of them, and the card
places (`CardRef`) it reads and records. Each function is one session or one transaction of its own
(the worker holds none); `digest_alert_ids` runs in the caller's session.

A lease pushes `next_attempt_at` forward and counts the attempt (`FOR UPDATE SKIP LOCKED` on
PostgreSQL), so a crashed worker's rows come back by themselves and two workers never take one row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, insert, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.db import SessionFactory, transaction
from storage.models import Admin, AlertEvent, CardRef, Outbox
from storage.queries import card_refs

NewRows = Callable[[Sequence[tuple[str, str]]], list[dict[str, Any]]]


@dataclass(frozen=True, eq=False)
class LeasedRow:
    """An outbox row as leased: `attempts` already counts the attempt this lease is for. Compared by
    identity (its payload is a dict)."""

    id: int
    kind: str
    platform: str
    destination: str
    alert_id: int | None
    payload: dict[str, Any]
    attempts: int
    created_at: datetime | None


_LEASE_COLUMNS = (
    col(Outbox.id), col(Outbox.kind), col(Outbox.platform), col(Outbox.destination), col(Outbox.alert_id),
    col(Outbox.payload), col(Outbox.attempts), col(Outbox.created_at),
)


def _not_in_channels(channels: Sequence[tuple[str, str]]) -> ColumnElement[bool]:
    return not_(
        or_(
            *(
                and_(col(Outbox.platform) == platform, col(Outbox.destination) == channel)
                for platform, channel in channels
            )
        )
    )


async def lease_due(
    sessions: SessionFactory, *, now: datetime, limit: int, until: datetime,
    skip_channels: Sequence[tuple[str, str]] = (),
) -> list[LeasedRow]:
    """Up to `limit` pending rows due at `now`, oldest first, leased until `until` (one UPDATE for the
    whole take). Rows for `skip_channels` (platform, destination) stay unleased."""
    async with transaction(sessions) as session:
        query = (
            select(*_LEASE_COLUMNS)
            .where(col(Outbox.status) == "pending", col(Outbox.next_attempt_at) <= now)
            .order_by(col(Outbox.id))
            .limit(limit)
        )
        if skip_channels:
            query = query.where(_not_in_channels(skip_channels))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = (await session.execute(query)).all()
        if rows:
            await session.execute(
                update(Outbox)
                .where(col(Outbox.id).in_([row.id for row in rows]))
                .values(next_attempt_at=until, attempts=col(Outbox.attempts) + 1)
            )
    return [
        LeasedRow(row.id, row.kind, row.platform, row.destination, row.alert_id, dict(row.payload),
                  row.attempts + 1, row.created_at)
        for row in rows
    ]


async def record_outcomes(
    sessions: SessionFactory,
    *,
    changes: Sequence[tuple[int, dict[str, Any]]],
    events: Sequence[dict[str, Any]] = (),
    new_rows: NewRows | None = None,
) -> None:
    """In one transaction: each (row id, new column values) — one UPDATE per row whose payload changes,
    one per distinct set of values for the rest (a digest of 50 rows that all went out: one
    statement) —, the `AlertEvent` rows `events` describe, and the outbox rows `new_rows` builds from
    every admin's (platform, user id) (admins are read only when it is given)."""
    same: dict[tuple[tuple[str, Any], ...], list[int]] = {}
    async with transaction(sessions) as session:
        for row_id, values in changes:
            if "payload" in values:
                await session.execute(update(Outbox).where(col(Outbox.id) == row_id).values(**values))
            else:
                same.setdefault(tuple(sorted(values.items())), []).append(row_id)
        session.add_all(AlertEvent(**event) for event in events)
        if new_rows is not None:
            admins = (await session.execute(select(col(Admin.platform), col(Admin.user_id)))).all()
            session.add_all(Outbox(**row) for row in new_rows([(p, u) for p, u in admins]))
        for key, ids in same.items():
            await session.execute(update(Outbox).where(col(Outbox.id).in_(ids)).values(**dict(key)))


async def push_back_channel(
    sessions: SessionFactory, *, platform: str, destination: str, until: datetime
) -> None:
    """Every pending row for this channel waits until `until` (a 429); other channels are untouched."""
    async with transaction(sessions) as session:
        await session.execute(
            update(Outbox)
            .where(
                col(Outbox.status) == "pending",
                col(Outbox.platform) == platform,
                col(Outbox.destination) == destination,
                col(Outbox.next_attempt_at) < until,
            )
            .values(next_attempt_at=until)
        )


async def release(sessions: SessionFactory, *, rows: Iterable[tuple[int, int]], at: datetime) -> None:
    """Give back leased (row id, attempts before the lease) rows: due again at `at`, the lease's attempt
    not counted."""
    by_attempts: dict[int, list[int]] = {}
    for row_id, attempts in rows:
        by_attempts.setdefault(attempts, []).append(row_id)
    if not by_attempts:
        return
    async with transaction(sessions) as session:
        for attempts, ids in by_attempts.items():
            await session.execute(
                update(Outbox).where(col(Outbox.id).in_(ids)).values(attempts=attempts, next_attempt_at=at)
            )


async def card_post_pending(sessions: SessionFactory, *, alert_id: int) -> bool:
    """The alert's card post has not gone out yet (its updates and thread lines wait for it)."""
    query = select(col(Outbox.id)).where(
        col(Outbox.alert_id) == alert_id, col(Outbox.kind) == "card.post", col(Outbox.status) == "pending"
    )
    async with sessions() as session:
        return (await session.execute(query.limit(1))).first() is not None


# Card places (CardRef): where each alert's card was posted


async def places_of(sessions: SessionFactory, *, alert_id: int) -> Sequence[CardRef]:
    """Every place the alert's card was posted, first posted first."""
    async with sessions() as session:
        return await card_refs(session, alert_id=alert_id)


async def place_at(sessions: SessionFactory, *, alert_id: int, platform: str, channel: str) -> CardRef | None:
    query = select(CardRef).where(
        col(CardRef.alert_id) == alert_id, col(CardRef.platform) == platform, col(CardRef.channel) == channel
    )
    async with sessions() as session:
        return (await session.execute(query)).scalars().first()


async def alerts_placed_at(
    sessions: SessionFactory, *, alert_ids: Sequence[int], platform: str, channel: str
) -> set[int]:
    """Which of these alerts already have a card (theirs or a digest) in this channel."""
    query = select(col(CardRef.alert_id)).where(
        col(CardRef.alert_id).in_(alert_ids),
        col(CardRef.platform) == platform,
        col(CardRef.channel) == channel,
    )
    async with sessions() as session:
        return set((await session.execute(query)).scalars().all())


async def digest_alert_ids(
    session: AsyncSession, *, platform: str, channel: str, message_id: str
) -> list[int]:
    """The alerts one digest message lists, in the order they were recorded."""
    query = (
        select(col(CardRef.alert_id))
        .where(
            col(CardRef.platform) == platform,
            col(CardRef.channel) == channel,
            col(CardRef.message_id) == message_id,
        )
        .order_by(col(CardRef.id))
    )
    return list((await session.execute(query)).scalars())


async def record_digest_post(sessions: SessionFactory, *, places: Sequence[dict[str, Any]]) -> None:
    """Where a burst digest was posted, one `CardRef` per alert, in one statement (Core executemany,
    no ORM objects: a digest holds up to a few hundred alerts). Each place gives every column."""
    async with transaction(sessions) as session:
        await session.execute(insert(CardRef.__table__), list(places))  # type: ignore[attr-defined]


async def record_post(
    sessions: SessionFactory, *, places: Sequence[dict[str, Any]], outbox_rows: Sequence[dict[str, Any]] = ()
) -> None:
    """Where cards were posted (`CardRef` columns) with the outbox rows that follow from the post (the
    rest of a cut response), in one transaction."""
    async with transaction(sessions) as session:
        session.add_all(CardRef(**place) for place in places)
        session.add_all(Outbox(**row) for row in outbox_rows)
