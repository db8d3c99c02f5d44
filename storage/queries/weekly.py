"""What the weekly figures (the dashboard's charts, the digest's picture) read and keep.

A team's day is computed once from its alerts and kept in `figureday`; afterwards a page reads those rows,
plus one change check: the count and the sum of versions of each (day, team)'s alerts, read from the index
`ix_alert_created_team` alone, one range a day (every alert write bumps its version: bot/alerts/writer.py).
A day whose check differs from the kept one, or whose next open deadline has passed, is computed again from
its alerts — a day, not a week: new alerts cost one team's day of alerts to count again.

Only alerts of kind "response" are responses; systemic issues (kind "systemic") are counted apart.
Keyword-only; callers own the session.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Float, TextClause, and_, bindparam, case, cast, func, or_, select, text, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from storage.models import Alert, Feedback, FigureDay, FollowUp
from storage.queries import _insert_for
from storage.types import UTCDateTime

# (seconds to first claim or resolve, to resolve, to first contact (None when not yet), 1 if it missed a
#  deadline (by `now` for open clocks) else 0, 1 if someone responded (a first contact, claim or resolve)
#  else 0, location, employee)
AlertTimes = tuple[float | None, float | None, float | None, int, int, str | None, str | None]
# (the customer confirmed the fix, location, employee): answered follow-ups only
FollowUpAnswer = tuple[bool, str | None, str | None]
# (day "YYYY-MM-DD", team id, fingerprint, expires_at, computed_at)
DayMarker = tuple[str, int, str, datetime | None, datetime]
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """[since, since + count × step): `count` slices of `step` (days or weeks) from `since`."""

    since: datetime
    count: int
    step: timedelta = DAY

    @property
    def until(self) -> datetime:
        return self.since + self.step * self.count

    def holds(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= _at(self.since), column < _at(self.until))

    def slices(self) -> list[Window]:
        return [Window(self.since + self.step * i, 1, self.step) for i in range(self.count)]


def _at(moment: datetime) -> Any:
    return bindparam(None, moment, type_=UTCDateTime())


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _seconds_between(session: AsyncSession, start: Any, end: Any) -> ColumnElement[Any]:
    """end − start in seconds, computed by the database (None when either is None)."""
    if _postgres(session):
        return cast(func.extract("epoch", end - start), Float)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _attribute(name: str) -> ColumnElement[Any]:
    attributes: Any = col(Feedback.attributes)
    return attributes[name].as_string()  # type: ignore[no-any-return]


def _teams(team_ids: Collection[int] | None) -> ColumnElement[bool]:
    return col(Alert.team_id).in_(sorted(team_ids)) if team_ids is not None else true()


def _breached(now: datetime) -> ColumnElement[Any]:
    at = bindparam(None, now, type_=UTCDateTime())
    first_response = func.coalesce(col(Alert.claimed_at), col(Alert.resolved_at), at)
    late_claim = and_(col(Alert.claim_due_at).is_not(None), first_response > col(Alert.claim_due_at))
    late_resolve = and_(col(Alert.resolve_due_at).is_not(None),
                        func.coalesce(col(Alert.resolved_at), at) > col(Alert.resolve_due_at))
    return case((or_(late_claim, late_resolve), 1), else_=0)


def _responded() -> ColumnElement[Any]:
    acted = or_(col(Alert.claimed_at).is_not(None), col(Alert.resolved_at).is_not(None),
                col(Alert.first_contact_at).is_not(None))
    return case((acted, 1), else_=0)


@lru_cache(maxsize=16)
def _fingerprints_sql(slices: int, some_teams: bool) -> TextClause:
    """One index range per slice, UNION ALL (a CASE per row to find its slice costs several times more);
    written once per shape: building it from 84 `select()`s took longer than running it."""
    teams = " AND team_id IN :teams" if some_teams else ""
    parts = [f"SELECT {i} AS slice, team_id, count(*) AS n, sum(version) AS v FROM alert "  # noqa: S608
             f"WHERE created_at >= :at{i} AND created_at < :at{i + 1}{teams} GROUP BY team_id"
             for i in range(slices)]
    binds = [bindparam(f"at{i}", type_=UTCDateTime()) for i in range(slices + 1)]
    if some_teams:
        binds.append(bindparam("teams", expanding=True))
    return text(" UNION ALL ".join(parts)).bindparams(*binds)


async def day_fingerprints(
    session: AsyncSession, *, window: Window, team_ids: Collection[int] | None
) -> dict[tuple[int, int], str]:
    """(slice index, team id) → "count:sum of versions" of every alert raised then (any kind). The slices
    before the window's first alert (one index seek finds it) are not asked: a year's view of a younger
    history costs only the weeks it has."""
    if team_ids is not None and not team_ids:
        return {}
    earliest = (await session.execute(select(func.min(col(Alert.created_at))).where(
        window.holds(col(Alert.created_at))))).scalar()
    if earliest is None:
        return {}
    first = int((_as_utc(earliest) - window.since) / window.step)
    values: dict[str, Any] = {f"at{i}": window.since + window.step * (first + i)
                              for i in range(window.count - first + 1)}
    if team_ids is not None:
        values["teams"] = sorted(team_ids)
    connection = await session.connection()
    query = _fingerprints_sql(window.count - first, team_ids is not None)
    rows = (await connection.execute(query, values)).tuples()
    return {(first + int(i), int(team)): f"{count}:{total}" for i, team, count, total in rows}


async def day_markers(
    session: AsyncSession, *, days: Sequence[str], team_ids: Collection[int] | None
) -> list[DayMarker]:
    """What is kept for each (day, team) of `days` — its fingerprint, expiry and when it was computed —
    without the figures themselves (a page holding a day already parsed skips reading it)."""
    query = select(col(FigureDay.day), col(FigureDay.team_id), col(FigureDay.fingerprint),
                   col(FigureDay.expires_at), col(FigureDay.computed_at)).where(
        col(FigureDay.day) >= min(days), col(FigureDay.day) <= max(days))
    if team_ids is not None:
        query = query.where(col(FigureDay.team_id).in_(sorted(team_ids)))
    return list((await session.execute(query)).tuples())


async def stored_data(
    session: AsyncSession, *, wanted: Collection[tuple[str, int]]
) -> dict[tuple[str, int], dict[str, Any]]:
    """The kept figures of the (day, team)s `wanted`."""
    if not wanted:
        return {}
    days, teams = sorted({day for day, _ in wanted}), sorted({team for _, team in wanted})
    query = select(col(FigureDay.day), col(FigureDay.team_id), col(FigureDay.data)).where(
        col(FigureDay.day) >= days[0], col(FigureDay.day) <= days[-1], col(FigureDay.team_id).in_(teams))
    rows = (await session.execute(query)).tuples()
    return {(day, team): data for day, team, data in rows if (day, team) in wanted}


async def save_day(
    session: AsyncSession, *, day: str, team_id: int, fingerprint: str, expires_at: datetime | None,
    data: dict[str, Any], now: datetime,
) -> None:
    """Keep one team's day (replacing what was kept: two pages computing it at once write the same)."""
    values = {"day": day, "team_id": team_id, "fingerprint": fingerprint,
              "expires_at": expires_at, "computed_at": now, "data": data}
    stmt = _insert_for(session)(FigureDay).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "team_id"],
        set_={name: stmt.excluded[name] for name in ("fingerprint", "expires_at", "computed_at", "data")},
    )
    await session.execute(stmt)


async def alert_times(
    session: AsyncSession, *, window: Window, now: datetime, team_ids: Collection[int]
) -> Sequence[tuple[int, *AlertTimes]]:
    """(team id, its clocks...) of every response alert of the teams raised in the window: its clocks, and
    the location and employee of its feedback."""
    created = col(Alert.created_at)
    query = (
        select(
            col(Alert.team_id),
            _seconds_between(session, created, func.coalesce(col(Alert.claimed_at), col(Alert.resolved_at))),
            _seconds_between(session, created, col(Alert.resolved_at)),
            _seconds_between(session, created, col(Alert.first_contact_at)),
            _breached(now), _responded(), _attribute("location"), _attribute("employee"),
        )
        .join(Feedback, col(Feedback.id) == col(Alert.feedback_id))
        .where(window.holds(created), _teams(team_ids), col(Alert.kind) == "response")
    )
    connection = await session.connection()  # Core, not the ORM: rows come back as plain tuples
    return (await connection.execute(query)).tuples().all()


async def systemic_and_next_deadline(
    session: AsyncSession, *, window: Window, now: datetime, team_ids: Collection[int]
) -> dict[int, tuple[int, datetime | None]]:
    """Team id → (systemic issues it opened in the window, the earliest deadline after `now` of a clock
    still running — claim or resolve — among its response alerts raised then: when it passes, the breach
    rate changes)."""
    at = bindparam(None, now, type_=UTCDateTime())
    response = col(Alert.kind) == "response"
    unclaimed = and_(response, col(Alert.claimed_at).is_(None), col(Alert.resolved_at).is_(None),
                     col(Alert.claim_due_at) > at)
    unresolved = and_(response, col(Alert.resolved_at).is_(None), col(Alert.resolve_due_at) > at)
    query = select(col(Alert.team_id), func.count(case((col(Alert.kind) == "systemic", 1))),
                   func.min(case((unclaimed, col(Alert.claim_due_at)))),
                   func.min(case((unresolved, col(Alert.resolve_due_at))))).where(
        window.holds(col(Alert.created_at)), _teams(team_ids)).group_by(col(Alert.team_id))
    return {int(team): (int(systemic), min((_as_utc(due) for due in dues if due is not None), default=None))
            for team, systemic, *dues in (await session.execute(query)).tuples()}


def _as_utc(value: Any) -> datetime:
    """MIN() of a datetime column: a datetime, or (SQLite, untyped) its text."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def follow_up_answers(
    session: AsyncSession, *, window: Window, team_ids: Collection[int]
) -> dict[int, list[FollowUpAnswer]]:
    """Team id → the latest answered follow-up of each of its response alerts raised in the window:
    whether the customer confirmed the fix ("yes", and not a score of 6 or less, which reopened it)."""
    query = (
        select(col(FollowUp.alert_id), col(Alert.team_id), col(FollowUp.resolved), col(FollowUp.score),
               _attribute("location"), _attribute("employee"))
        .join(Alert, col(Alert.id) == col(FollowUp.alert_id))
        .join(Feedback, col(Feedback.id) == col(Alert.feedback_id))
        .where(window.holds(col(Alert.created_at)), _teams(team_ids),
               col(Alert.kind) == "response", col(FollowUp.answered_at).is_not(None))
        .order_by(col(FollowUp.id))
    )
    latest: dict[int, tuple[int, FollowUpAnswer]] = {}
    for alert_id, team, resolved, score, where, who in (await session.execute(query)).tuples():
        latest[alert_id] = (team, (bool(resolved) and (score is None or score > 6), where, who))
    by_team: dict[int, list[FollowUpAnswer]] = {}
    for team, answer in latest.values():
        by_team.setdefault(team, []).append(answer)
    return by_team


async def responses_received(session: AsyncSession, *, window: Window) -> dict[int, int]:
    """Feedback received in the window (alerting or not), by slice: one index range count each."""
    received = col(Feedback.received_at)
    counts = [select(func.count()).select_from(Feedback).where(part.holds(received)).scalar_subquery()
              for part in window.slices()]
    row = (await session.execute(select(*counts))).one()
    return {i: int(count) for i, count in enumerate(row) if count}
