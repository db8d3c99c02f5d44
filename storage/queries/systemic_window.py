"""The systemic detector's reads and writes (bot/systemic/detector.py), under its cursor's lock: the
cursor, the signals and day sums it records, and per batch the few statements that count its values.

A batch's (dimension, value) keys are looked up one dimension at a time (`dimension = ? AND value IN
(…)`), each an index seek per value on ix_alertsignal_lookup / ix_signalday_counts: a row-value
`(dimension, value) IN (…)` makes SQLite scan the team's whole index instead. On PostgreSQL the lists
and the batch's rows are bound as arrays (`= ANY(…)`, `unnest(…)`) so a statement's text never changes
and asyncpg's prepared-statement cache spares a round trip. Keyword-only; callers own the session and
the transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    CompoundSelect,
    Integer,
    String,
    any_,
    bindparam,
    func,
    insert,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from storage.models import Alert, AlertSignal, JobCursor, SignalDay, SystemicIssue, SystemicMember
from storage.queries import _insert_for
from storage.queries.systemic import ParentRow
from storage.types import UTCDateTime

Key = tuple[str, str]  # (dimension, value)
KEYS_PER_STATEMENT = 2_000  # ≤ 4,000 bound values a statement: far below SQLite's and asyncpg's limits
IDS_PER_STATEMENT = 5_000
HISTORY_DIMENSION = "source"  # every alert has a source: its rows say which days have alerts


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def lock_cursor(session: AsyncSession, *, name: str, now: datetime) -> int:
    """The last alert id job `name` processed, held until the transaction ends: `FOR UPDATE` on
    PostgreSQL (a second worker waits, then reads the advanced cursor); SQLite's `BEGIN IMMEDIATE`
    already holds the one write lock. The row is created at 0 on first use (then read again, locked)."""
    query = select(col(JobCursor.last_id)).where(col(JobCursor.name) == name).with_for_update()
    found = (await session.execute(query)).scalar_one_or_none()
    if found is not None:
        return int(found)
    table = JobCursor.__table__  # type: ignore[attr-defined]
    await session.execute(
        _insert_for(session)(table).values(name=name, last_id=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return int((await session.execute(query)).scalar_one())


@lru_cache(maxsize=1)
def _advance_statement() -> Any:
    """Built once, on the Core table: a per-tick statement, and the ORM's bulk-update path (and its
    statement's cache key, recomputed per build) cost more than SQLite's execution of it."""
    table = JobCursor.__table__  # type: ignore[attr-defined]
    return update(table).where(table.c.name == bindparam("cursor_name", type_=String)).values(
        last_id=bindparam("last_id", type_=Integer), updated_at=bindparam("updated_at", type_=UTCDateTime))


async def advance_cursor(session: AsyncSession, *, name: str, last_id: int, now: datetime) -> None:
    await session.execute(_advance_statement(), {"cursor_name": name, "last_id": last_id, "updated_at": now})


SIGNAL_COLUMNS = ("alert_id", "team_id", "dimension", "value", "at")
DAY_COLUMNS = ("team_id", "dimension", "value", "day", "count")


@lru_cache(maxsize=4)
def _from_arrays(table_name: str, columns: tuple[str, ...]) -> Any:
    """PostgreSQL: `SELECT … FROM unnest(:alert_id, :team_id, …)`, one array a column: a whole batch in
    one statement whose text never changes (an executemany's multi-row VALUES changes with the row count,
    and asyncpg prepares every new text, a round trip)."""
    table = SQLModel.metadata.tables[table_name]
    arrays = [bindparam(name, type_=ARRAY(table.c[name].type)) for name in columns]
    rows = func.unnest(*arrays).table_valued(*columns).render_derived()
    return select(*(rows.c[name] for name in columns))


def _arrays(columns: Sequence[str], rows: Sequence[Mapping[str, object]]) -> dict[str, list[object]]:
    return {name: [row[name] for row in rows] for name in columns}


async def insert_signals(session: AsyncSession, *, rows: Sequence[dict[str, object]]) -> None:
    """AlertSignal rows (alert_id, team_id, dimension, value, at) in one statement."""
    if not rows:
        return
    table = AlertSignal.__table__  # type: ignore[attr-defined]
    if _postgres(session):
        stmt = insert(table).from_select(SIGNAL_COLUMNS, _from_arrays(table.name, SIGNAL_COLUMNS))
        await session.execute(stmt, _arrays(SIGNAL_COLUMNS, rows))
    else:
        await session.execute(insert(table), list(rows))


async def add_signal_days(session: AsyncSession, *, counts: Mapping[tuple[int, str, str, str], int]) -> None:
    """count += n for each (team, dimension, value, day): `INSERT … ON CONFLICT DO UPDATE` (both dialects)."""
    if not counts:
        return
    rows = [{"team_id": t, "dimension": d, "value": v, "day": day, "count": n}
            for (t, d, v, day), n in sorted(counts.items())]  # sorted: two writers lock in one order
    postgres = _postgres(session)
    await session.execute(_add_days_statement(postgres), _arrays(DAY_COLUMNS, rows) if postgres else rows)


@lru_cache(maxsize=2)
def _add_days_statement(postgres: bool) -> Any:
    """Built once per dialect (a per-tick statement: see _advance_statement)."""
    table = SignalDay.__table__  # type: ignore[attr-defined]
    stmt = (pg_insert if postgres else sqlite_insert)(table)
    if postgres:
        stmt = stmt.from_select(DAY_COLUMNS, _from_arrays(table.name, DAY_COLUMNS))
    return stmt.on_conflict_do_update(index_elements=["team_id", "dimension", "value", "day"],
                                      set_={"count": table.c.count + stmt.excluded.count})


def _by_dimension(keys: Iterable[Key]) -> list[list[tuple[str, list[str]]]]:
    """The keys as [(dimension, values)] groups, each group at most KEYS_PER_STATEMENT keys."""
    per_dimension: dict[str, set[str]] = defaultdict(set)
    for dimension, value in keys:
        per_dimension[dimension].add(value)
    groups: list[list[tuple[str, list[str]]]] = [[]]
    room = KEYS_PER_STATEMENT
    for dimension in sorted(per_dimension):
        values = sorted(per_dimension[dimension])
        while values:
            if room == 0:
                groups.append([])
                room = KEYS_PER_STATEMENT
            taken, values = values[:room], values[room:]
            groups[-1].append((dimension, taken))
            room -= len(taken)
    return [group for group in groups if group]


@dataclass
class ValueStats:
    """What the database holds for a batch's keys: the signals in the batch's span (an upper bound of
    every window count in it), the per-day sums over the baseline's days, the team's first day."""

    span: dict[Key, int] = field(default_factory=dict)
    baseline: dict[Key, int] = field(default_factory=dict)
    history_start: str | None = None


def _kind(name: str) -> Any:
    return literal(name, String)


def _member(column: Any, name: str, postgres: bool) -> Any:
    """column in the list bound as `name`: `= ANY(array)` on PostgreSQL, one statement text whatever the
    list's length (asyncpg prepares each new text: a round trip); an expanded `IN (?, …)` on SQLite."""
    if postgres:
        return column == any_(bindparam(name, type_=ARRAY(String)))
    return column.in_(bindparam(name, expanding=True, type_=String))


def _in_span(n: int, postgres: bool) -> tuple[Any, ...]:
    """This team's signals of the n-th dimension's values at (since, until]."""
    return (col(AlertSignal.team_id) == bindparam("team_id", type_=Integer),
            col(AlertSignal.dimension) == bindparam(f"dimension{n}", type_=String),
            _member(col(AlertSignal.value), f"values{n}", postgres),
            col(AlertSignal.at) > bindparam("since", type_=UTCDateTime),
            col(AlertSignal.at) <= bindparam("until", type_=UTCDateTime))


def _in_days(n: int | None, postgres: bool) -> tuple[Any, ...]:
    """This team's day counts of the n-th dimension's values (None: of the history dimension) in
    [first_day, before_day)."""
    dimension = HISTORY_DIMENSION if n is None else bindparam(f"dimension{n}", type_=String)
    found = (col(SignalDay.team_id) == bindparam("team_id", type_=Integer),
             col(SignalDay.dimension) == dimension,
             col(SignalDay.day) >= bindparam("first_day", type_=String),
             col(SignalDay.day) < bindparam("before_day", type_=String))
    if n is None:
        return found
    return (*found, _member(col(SignalDay.value), f"values{n}", postgres))


@lru_cache(maxsize=64)
def _stats_statement(dimensions: int, postgres: bool) -> CompoundSelect[Any]:
    """The value_stats statement for `dimensions` dimensions, built once: its bound values change, its
    text (and SQLAlchemy's compiled cache entry) does not."""
    parts: list[Any] = [
        select(_kind("history"), literal("", String), func.min(col(SignalDay.day)), literal(0, Integer))
        .where(*_in_days(None, postgres))]
    for n in range(dimensions):
        parts.append(select(_kind("span"), col(AlertSignal.dimension), col(AlertSignal.value), func.count())
                     .where(*_in_span(n, postgres))
                     .group_by(col(AlertSignal.dimension), col(AlertSignal.value)))
        parts.append(select(_kind("baseline"), col(SignalDay.dimension), col(SignalDay.value),
                            func.sum(col(SignalDay.count)))
                     .where(*_in_days(n, postgres)).group_by(col(SignalDay.dimension), col(SignalDay.value)))
    return union_all(*parts)


@lru_cache(maxsize=64)
def _window_statement(dimensions: int, postgres: bool) -> CompoundSelect[Any]:
    """The keys' signals in the span, then the memberships of their alerts (value NULL): the parents
    that already show them come in the same round trip."""
    columns = (col(AlertSignal.dimension), col(AlertSignal.value), col(AlertSignal.at),
               col(AlertSignal.alert_id))
    signals = [select(*columns).where(*_in_span(n, postgres)) for n in range(dimensions)]
    alerts = union_all(*(select(col(AlertSignal.alert_id)).where(*_in_span(n, postgres))
                         for n in range(dimensions)))
    members = select(col(SystemicMember.dimension), literal(None, String), col(SystemicMember.joined_at),
                     col(SystemicMember.alert_id)).where(col(SystemicMember.alert_id).in_(alerts))
    return union_all(*signals, members)


def _group_values(group: list[tuple[str, list[str]]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for n, (dimension, listed) in enumerate(group):
        values[f"dimension{n}"], values[f"values{n}"] = dimension, listed
    return values


async def value_stats(
    session: AsyncSession, *, team_id: int, keys: Iterable[Key], since: datetime, until: datetime,
    first_day: str, before_day: str,
) -> ValueStats:
    """Per key: its signals at (since, until], its day counts summed over [first_day, before_day);
    and the team's first day with alerts in [first_day, before_day) — one statement (per
    KEYS_PER_STATEMENT keys)."""
    stats = ValueStats()
    common = {"team_id": team_id, "since": since, "until": until, "first_day": first_day,
              "before_day": before_day}
    for group in _by_dimension(keys):
        statement = _stats_statement(len(group), _postgres(session))
        rows = await session.execute(statement, {**common, **_group_values(group)})
        for kind, dimension, value, count in rows.all():
            if kind == "history":
                stats.history_start = cast("str | None", value)
            else:
                getattr(stats, kind)[(dimension, value)] = int(count or 0)
    return stats


@dataclass
class WindowSignals:
    """The keys' signals in a span, and the memberships their alerts already have."""

    times: dict[Key, list[tuple[datetime, int]]] = field(default_factory=dict)  # key → (at, alert id)
    taken: set[tuple[int, str]] = field(default_factory=set)  # (alert id, dimension of its parent)


async def window_signals(
    session: AsyncSession, *, team_id: int, keys: Iterable[Key], since: datetime, until: datetime,
) -> WindowSignals:
    """key → (at, alert id) of this team's signals of that key at (since, until], oldest first; and
    (alert id, dimension) of every parent membership of those alerts (one parent per dimension) — one
    statement (per KEYS_PER_STATEMENT keys)."""
    found: dict[Key, list[tuple[datetime, int]]] = defaultdict(list)
    taken: set[tuple[int, str]] = set()
    common = {"team_id": team_id, "since": since, "until": until}
    for group in _by_dimension(keys):
        statement = _window_statement(len(group), _postgres(session))
        rows = await session.execute(statement, {**common, **_group_values(group)})
        for dimension, value, at, alert_id in rows.all():
            if value is None:
                taken.add((alert_id, dimension))
            else:
                found[(dimension, value)].append((at, alert_id))
    for times in found.values():
        times.sort()
    return WindowSignals(dict(found), taken)


async def latest_parents(
    session: AsyncSession, *, team_id: int, keys: Iterable[Key], since: datetime
) -> dict[Key, ParentRow]:
    """key → this team's latest systemic issue of that key whose last child came after `since`, whatever
    its status (the detector decides whether it still takes children)."""
    wanted = set(keys)
    found: dict[Key, ParentRow] = {}
    for group in _by_dimension(wanted):
        query = (
            select(SystemicIssue, col(Alert.status), col(Alert.feedback_id))
            .join(Alert, col(Alert.id) == col(SystemicIssue.alert_id))
            .where(col(SystemicIssue.team_id) == team_id,
                   col(SystemicIssue.dimension).in_([dimension for dimension, _ in group]),
                   col(SystemicIssue.value).in_(sorted({v for _, values in group for v in values})),
                   col(SystemicIssue.last_child_at) > since)
            .order_by(col(SystemicIssue.id))
        )
        for issue, status, feedback_id in (await session.execute(query)).all():
            key = (issue.dimension, issue.value)
            if key in wanted:  # the two IN lists also match pairs the batch does not have
                found[key] = ParentRow(
                    issue.id or 0, issue.alert_id, issue.number, feedback_id or 0, status, issue.child_count,
                    issue.first_child_at, issue.last_child_at, issue.baseline_per_window,
                    issue.window_seconds)
    return found
