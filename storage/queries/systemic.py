"""Systemic spikes (bot/systemic): the parents, their children, the alerts the detector reads. The signals,
day sums and the detector's cursor are in storage/queries/systemic_window.py. Keyword-only; callers own
the session and the transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Select, String, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import (
    Alert,
    Feedback,
    JobCursor,
    Source,
    SystemicIssue,
    SystemicMember,
)
from storage.queries import _insert_for

COMMENT_START = 120  # characters of a child's comment its parent's card lists


@dataclass(frozen=True)
class ChildRow:
    """One child alert of a systemic issue, as its parent's card lists it."""

    key: str
    severity: str
    status: str
    customer_name: str | None
    nps: int | None
    comment_start: str | None
    owner_name: str | None
    created_at: datetime


def sys_key(number: int) -> str:
    return f"SYS-{number}"


async def parents_of(session: AsyncSession, *, alert_ids: Sequence[int]) -> dict[int, list[str]]:
    """Child alert id → the keys of its parents (["SYS-3", …], oldest parent first); alerts without a
    parent are absent."""
    if not alert_ids:
        return {}
    query = (
        select(col(SystemicMember.alert_id), col(SystemicIssue.number))
        .join(SystemicIssue, col(SystemicIssue.id) == col(SystemicMember.systemic_id))
        .where(col(SystemicMember.alert_id).in_(sorted(set(alert_ids))))
        .order_by(col(SystemicMember.alert_id), col(SystemicIssue.number))
    )
    found: dict[int, list[str]] = defaultdict(list)
    for alert_id, number in (await session.execute(query)).tuples():
        found[alert_id].append(sys_key(number))
    return dict(found)


async def children_of(session: AsyncSession, *, alert_id: int) -> list[ChildRow]:
    """The children of the systemic issue whose case is alert `alert_id`, oldest first ([] when that
    alert is no parent)."""
    query = (
        select(col(Alert.key), col(Alert.severity), col(Alert.status), col(Feedback.customer_name),
               col(Feedback.nps), col(Feedback.comment), col(Alert.owner_name), col(Alert.created_at))
        .join(SystemicMember, col(SystemicMember.alert_id) == col(Alert.id))
        .join(SystemicIssue, col(SystemicIssue.id) == col(SystemicMember.systemic_id))
        .join(Feedback, col(Feedback.id) == col(Alert.feedback_id))
        .where(col(SystemicIssue.alert_id) == alert_id)
        .order_by(col(Alert.created_at), col(Alert.id))
    )
    return [
        ChildRow(key=key or "", severity=severity, status=status, customer_name=customer_name, nps=nps,
                 comment_start=comment[:COMMENT_START] if comment else None, owner_name=owner_name,
                 created_at=created_at)
        for key, severity, status, customer_name, nps, comment, owner_name, created_at
        in (await session.execute(query)).tuples()
    ]


async def systemic_for_alert(session: AsyncSession, *, alert_id: int) -> SystemicIssue | None:
    """The systemic issue whose case is alert `alert_id` (None for a response's alert)."""
    query = select(SystemicIssue).where(col(SystemicIssue.alert_id) == alert_id)
    return (await session.execute(query)).scalar_one_or_none()


# ---- the detector's alerts and parents (bot/systemic/detector.py), under the cursor's lock ----

VALUE_CHUNK = 500  # values per IN list: well under SQLite's and asyncpg's bound-parameter limits


def _chunks(values: Sequence[str]) -> list[list[str]]:
    ordered = sorted(set(values))
    return [ordered[i:i + VALUE_CHUNK] for i in range(0, len(ordered), VALUE_CHUNK)]


@dataclass(frozen=True)
class NewAlert:
    """A response's alert as the detector reads it: what its dimension values come from."""

    alert_id: int
    team_id: int
    created_at: datetime
    severity: str
    nps: int | None
    comment: str | None
    attributes: dict[str, str]
    source: str


def _facts_query() -> Select[*tuple[Any, ...]]:
    return (
        select(col(Alert.id), col(Alert.team_id), col(Alert.created_at), col(Alert.severity),
               col(Feedback.nps), col(Feedback.comment), col(Feedback.attributes), col(Source.name))
        .join(Feedback, col(Feedback.id) == col(Alert.feedback_id))
        .join(Source, col(Source.id) == col(Feedback.source_id))
    )


async def _facts(session: AsyncSession, query: Select[*tuple[Any, ...]],
                 params: Mapping[str, object] | None = None) -> list[NewAlert]:
    return [NewAlert(alert_id or 0, team_id, at, severity, nps, comment, dict(attributes or {}), source)
            for alert_id, team_id, at, severity, nps, comment, attributes, source
            in (await session.execute(query, params)).all()]


async def alerts_after(session: AsyncSession, *, after_id: int, limit: int) -> list[NewAlert]:
    """Alerts of kind "response" with an id above `after_id`, in id order, with their feedback."""
    query = (_facts_query().where(col(Alert.id) > after_id, col(Alert.kind) == "response")
             .order_by(col(Alert.id)).limit(limit))
    return await _facts(session, query)


async def alerts_after_cursor(session: AsyncSession, *, cursor: str, limit: int) -> list[NewAlert]:
    """The same, after the last id job `cursor` processed, read and locked in the same statement (a
    round trip less than storage.queries.systemic_window.lock_cursor then `alerts_after`): `FOR UPDATE`
    in the subquery on PostgreSQL, a second worker waiting there reads the advanced cursor; SQLite's
    `BEGIN IMMEDIATE` already holds the one write lock. [] when the cursor row does not exist yet."""
    return await _facts(session, _after_cursor_statement(), {"cursor_name": cursor, "limit": limit})


@lru_cache(maxsize=1)
def _after_cursor_statement() -> Select[*tuple[Any, ...]]:
    """Built once (the detector's every tick runs it): building it, and its cache key, cost more than
    SQLite's execution of it."""
    last_id = (select(col(JobCursor.last_id))
               .where(col(JobCursor.name) == bindparam("cursor_name", type_=String))
               .with_for_update().scalar_subquery())
    return (_facts_query().where(col(Alert.id) > last_id, col(Alert.kind) == "response")
            .order_by(col(Alert.id)).limit(bindparam("limit", type_=Integer)))


async def alert_facts(session: AsyncSession, *, alert_ids: Sequence[int]) -> list[NewAlert]:
    """The same facts for given alerts (the earlier children a new parent gathers), oldest first."""
    found: list[NewAlert] = []
    for chunk in _chunks([str(i) for i in alert_ids]):
        found += await _facts(session, _facts_query().where(col(Alert.id).in_([int(i) for i in chunk])))
    return sorted(found, key=lambda a: (a.created_at, a.alert_id))


@dataclass
class ParentRow:
    """A systemic issue as the detector keeps it while it adds children (mutable: counts grow)."""

    systemic_id: int
    alert_id: int
    number: int
    feedback_id: int
    status: str
    child_count: int
    first_child_at: datetime
    last_child_at: datetime
    baseline_per_window: float
    window_seconds: int


async def next_systemic_number(session: AsyncSession) -> int:
    """The next SYS-<n> (callers hold the detector's cursor lock; uq_systemicissue_number backs it)."""
    highest = (await session.execute(select(func.max(col(SystemicIssue.number))))).scalar_one()
    return int(highest or 0) + 1


async def systemic_source_id(session: AsyncSession, *, name: str, now: datetime) -> int:
    """The built-in source systemic cases' feedback rows come from, created on first use."""
    table = Source.__table__  # type: ignore[attr-defined]
    await session.execute(
        _insert_for(session)(table)
        .values(name=name, kind="systemic", secret_encrypted="", mapping={}, created_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    found = (await session.execute(select(col(Source.id)).where(col(Source.name) == name))).scalar_one()
    assert found is not None
    return found


async def insert_systemic_issue(session: AsyncSession, *, values: Mapping[str, object]) -> int:
    table = SystemicIssue.__table__  # type: ignore[attr-defined]
    return int((await session.execute(insert(table).values(**values).returning(table.c.id))).scalar_one())


async def update_parents(session: AsyncSession, *, parents: Sequence[ParentRow]) -> None:
    """Each parent's child count and last child time, one executemany."""
    if not parents:
        return
    table = SystemicIssue.__table__  # type: ignore[attr-defined]
    stmt = update(table).where(table.c.id == bindparam("_id")).values(
        child_count=bindparam("_count"), last_child_at=bindparam("_last"))
    await session.execute(stmt, [{"_id": p.systemic_id, "_count": p.child_count, "_last": p.last_child_at}
                                 for p in parents])


async def set_summaries(session: AsyncSession, *, comments: Mapping[int, str]) -> None:
    """feedback id → the parent's new summary sentence (its comment)."""
    if not comments:
        return
    table = Feedback.__table__  # type: ignore[attr-defined]
    stmt = update(table).where(table.c.id == bindparam("_id")).values(comment=bindparam("_comment"))
    await session.execute(stmt, [{"_id": fid, "_comment": text} for fid, text in comments.items()])


async def children_facts(session: AsyncSession, *, systemic_ids: Sequence[int]) -> dict[int, list[NewAlert]]:
    """systemic id → the facts of its children (the summary counts detractors and locations)."""
    if not systemic_ids:
        return {}
    query = (
        select(col(SystemicMember.systemic_id), col(Alert.id), col(Alert.team_id), col(Alert.created_at),
               col(Alert.severity), col(Feedback.nps), col(Feedback.attributes))
        .join(Alert, col(Alert.id) == col(SystemicMember.alert_id))
        .join(Feedback, col(Feedback.id) == col(Alert.feedback_id))
        .where(col(SystemicMember.systemic_id).in_(sorted(set(systemic_ids))))
    )
    found: dict[int, list[NewAlert]] = defaultdict(list)
    rows = (await session.execute(query)).all()
    for systemic_id, alert_id, team_id, at, severity, nps, attributes in rows:
        found[systemic_id].append(NewAlert(alert_id or 0, team_id, at, severity, nps, None,
                                           dict(attributes or {}), ""))
    return dict(found)


async def open_children(session: AsyncSession, *, parent_alert_id: int) -> list[Alert]:
    """The children of the systemic case `parent_alert_id` not resolved yet, in id order."""
    query = (
        select(Alert)
        .join(SystemicMember, col(SystemicMember.alert_id) == col(Alert.id))
        .join(SystemicIssue, col(SystemicIssue.id) == col(SystemicMember.systemic_id))
        .where(col(SystemicIssue.alert_id) == parent_alert_id, col(Alert.status) != "resolved")
        .order_by(col(Alert.id))
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(query)).scalars().unique().all())


async def open_children_count(session: AsyncSession, *, parent_alert_id: int) -> int:
    query = (
        select(func.count())
        .select_from(SystemicMember)
        .join(SystemicIssue, col(SystemicIssue.id) == col(SystemicMember.systemic_id))
        .join(Alert, col(Alert.id) == col(SystemicMember.alert_id))
        .where(col(SystemicIssue.alert_id) == parent_alert_id, col(Alert.status) != "resolved")
    )
    return int((await session.execute(query)).scalar_one())
