"""The dashboard's queue (/app): one page of alerts per query, keyset-paginated on a stable sort key.

Views: "needs-human" (the default: active alerts — open, claimed, or snoozed past their wake-up — overdue
first, then the most severe, then the oldest), "all" (newest first), "unassigned", "mine", "team",
"overdue" (urgency order) and "systemic" (the spikes' parents, newest first). Filters narrow any view.

Pagination never uses OFFSET: the cursor carries the last row's sort key (and the instant "overdue" was
judged at, so every page of one walk sorts by the same clock), and the next page starts strictly after
it. The cursor is opaque to the browser (base64url JSON) and checked when read back (`CursorError`).
Keyword-only; callers own the session.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, and_, case, false, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Alert, Feedback, Source, Team

DEFAULT_VIEW = "needs-human"
URGENCY = "urgency"  # overdue first, then severity (highest first), then age (oldest first), then id
NEWEST = "newest"  # id descending: ids grow with arrival
VIEWS: dict[str, str] = {  # view → its sort order
    DEFAULT_VIEW: URGENCY, "all": NEWEST, "unassigned": URGENCY, "mine": URGENCY, "team": URGENCY,
    "overdue": URGENCY, "systemic": NEWEST,
}
STATUSES = ("open", "claimed", "snoozed", "resolved")
SEVERITIES = ("critical", "high", "normal", "low")
KINDS = ("response", "systemic")
COMMENT_READ = 160  # characters of the comment read per row; the page shows about 100 of them
PAGE_MAX = 200


class CursorError(ValueError):
    """A cursor this module did not write (or for another view): the caller answers 422."""


@dataclass(frozen=True)
class QueueFilter:
    view: str = DEFAULT_VIEW
    visible_teams: frozenset[int] | None = None  # the teams the user may see; None = every team (admin)
    my_teams: frozenset[int] = frozenset()  # "team" view
    me: tuple[str, str] | None = None  # (platform, user id): "mine" view
    team_id: int | None = None
    severity: str | None = None
    status: str | None = None
    source: str | None = None  # a source's name
    location: str | None = None  # Feedback.attributes["location"]
    created_from: datetime | None = None
    created_before: datetime | None = None  # exclusive
    kind: str | None = None  # "response" | "systemic"


@dataclass(frozen=True)
class QueueRow:
    key: str
    kind: str
    severity: str
    status: str
    team_name: str
    customer_name: str | None
    comment: str | None  # the comment's first COMMENT_READ characters, raw
    nps: int | None
    owner_name: str | None
    due_at: datetime | None  # the clock that matters now: claim (open), resolve (claimed), wake (snoozed)
    overdue: bool
    created_at: datetime


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str | None  # None on the last page
    now: datetime  # the instant "overdue" was judged at


def _rank() -> ColumnElement[int]:
    return case({s: len(SEVERITIES) - i for i, s in enumerate(SEVERITIES)}, value=col(Alert.severity),
                else_=0)


def _overdue(now: datetime) -> ColumnElement[int]:
    status = col(Alert.status)
    return case(
        (and_(status == "open", col(Alert.claim_due_at) < now), 1),
        (and_(status == "claimed", col(Alert.resolve_due_at) < now), 1),
        (and_(status == "snoozed", col(Alert.snoozed_until) <= now), 1),
        else_=0,
    )


def _active(now: datetime) -> ColumnElement[bool]:
    """Someone should look now: open, claimed, or snoozed past its wake-up (the sweep wakes it soon)."""
    return or_(col(Alert.status).in_(("open", "claimed")),
               and_(col(Alert.status) == "snoozed", col(Alert.snoozed_until) <= now))


def _view_where(filters: QueueFilter, now: datetime) -> list[ColumnElement[bool]]:
    unresolved = col(Alert.status) != "resolved"
    view = filters.view
    if view == DEFAULT_VIEW:
        return [_active(now)]
    if view == "unassigned":
        return [unresolved, col(Alert.owner_id).is_(None)]
    if view == "mine":
        if filters.me is None:
            return [false()]
        platform, user_id = filters.me
        return [unresolved, col(Alert.owner_platform) == platform, col(Alert.owner_id) == user_id]
    if view == "team":
        return [unresolved, col(Alert.team_id).in_(sorted(filters.my_teams))]
    if view == "overdue":
        return [unresolved, _overdue(now) == 1]
    if view == "systemic":
        return [col(Alert.kind) == "systemic"]
    return []


def _filter_where(filters: QueueFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.visible_teams is not None:
        where.append(col(Alert.team_id).in_(sorted(filters.visible_teams)) if filters.visible_teams
                     else false())
    simple = ((Alert.team_id, filters.team_id), (Alert.severity, filters.severity),
              (Alert.status, filters.status), (Alert.kind, filters.kind))
    where.extend(col(column) == value for column, value in simple if value is not None)
    if filters.source:
        source_id = select(col(Source.id)).where(col(Source.name) == filters.source).scalar_subquery()
        where.append(col(Feedback.source_id) == source_id)
    if filters.location:
        location = type_coerce(col(Feedback.attributes), JSON)["location"].as_string()
        where.append(location == filters.location)
    if filters.created_from is not None:
        where.append(col(Alert.created_at) >= filters.created_from)
    if filters.created_before is not None:
        where.append(col(Alert.created_at) < filters.created_before)
    return where


def _sort_keys(order: str, now: datetime) -> list[tuple[ColumnElement[Any], bool]]:
    """(expression, descending) from the most to the least significant; the last is always the id."""
    alert_id: ColumnElement[Any] = col(Alert.id)  # type: ignore[assignment]
    if order == NEWEST:
        return [(alert_id, True)]
    created: ColumnElement[Any] = col(Alert.created_at)  # type: ignore[assignment]
    return [(_overdue(now), True), (_rank(), True), (created, False), (alert_id, False)]


def _after(keys: list[tuple[ColumnElement[Any], bool]], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order of `keys` (a row-value comparison, spelled out so that
    mixed directions work on every database)."""
    clauses = []
    for i, (expression, descending) in enumerate(keys):
        equal = [k == v for (k, _), v in zip(keys[:i], values[:i], strict=True)]
        step = expression < values[i] if descending else expression > values[i]
        clauses.append(and_(*equal, step))
    return or_(*clauses)


def encode_cursor(*, order: str, now: datetime, values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps({"o": order, "t": now.isoformat(), "k": plain}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, order: str) -> tuple[datetime, list[Any]]:
    """(the walk's clock, the last row's sort key) — `CursorError` unless this module wrote it for
    `order`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        now = datetime.fromisoformat(data["t"])
        values = list(data["k"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise CursorError("the page link is not valid; start from the first page") from exc
    shape = (int,) if order == NEWEST else (int, int, str, int)
    if data.get("o") != order or now.tzinfo is None or len(values) != len(shape) or not all(
        isinstance(v, kind) and not isinstance(v, bool) for v, kind in zip(values, shape, strict=True)
    ):
        raise CursorError("the page link is not valid for this view; start from the first page")
    if order == URGENCY:
        try:
            values[2] = datetime.fromisoformat(values[2])
        except ValueError as exc:
            raise CursorError("the page link is not valid; start from the first page") from exc
    return now, values


def _columns(now: datetime) -> tuple[Any, ...]:
    return (
        col(Alert.id), col(Alert.key), col(Alert.kind), col(Alert.severity), col(Alert.status),
        col(Team.name), col(Feedback.customer_name), func.substr(col(Feedback.comment), 1, COMMENT_READ),
        col(Feedback.nps), col(Alert.owner_name), col(Alert.claim_due_at), col(Alert.resolve_due_at),
        col(Alert.snoozed_until), col(Alert.created_at), _overdue(now), _rank(),
    )


def _row(values: Sequence[Any]) -> QueueRow:
    (_, key, kind, severity, status, team_name, customer_name, comment, nps, owner_name, claim_due,
     resolve_due, snoozed_until, created_at, overdue, _) = values
    due = {"open": claim_due, "claimed": resolve_due, "snoozed": snoozed_until}.get(status)
    return QueueRow(key=key or "", kind=kind, severity=severity, status=status, team_name=team_name,
                    customer_name=customer_name, comment=comment, nps=nps, owner_name=owner_name,
                    due_at=due, overdue=bool(overdue), created_at=created_at)


def _sort_values(order: str, values: Sequence[Any]) -> list[Any]:
    if order == NEWEST:
        return [values[0]]
    return [int(values[14]), int(values[15]), values[13], values[0]]


async def queue_page(
    session: AsyncSession, *, filters: QueueFilter, now: datetime, cursor: str | None = None, limit: int = 50
) -> QueuePage:
    """One page of the queue: `limit` rows after `cursor` (None: the first page), in one query."""
    order = VIEWS.get(filters.view)
    if order is None:
        raise CursorError(f"no view {filters.view!r}")
    after: list[Any] | None = None
    if cursor:
        now, after = decode_cursor(cursor, order=order)
    keys = _sort_keys(order, now)
    query = (
        select(*_columns(now))
        .join(Feedback, col(Feedback.id) == col(Alert.feedback_id))
        .join(Team, col(Team.id) == col(Alert.team_id))
        .where(*_view_where(filters, now), *_filter_where(filters))
        .order_by(*(k.desc() if descending else k.asc() for k, descending in keys))
        .limit(max(1, min(limit, PAGE_MAX)) + 1)
    )
    if after is not None:
        query = query.where(_after(keys, after))
    found = list((await session.execute(query)).tuples())
    more = len(found) > limit
    found = found[:limit]
    next_cursor = (encode_cursor(order=order, now=now, values=_sort_values(order, found[-1]))
                   if more and found else None)
    return QueuePage(rows=[_row(values) for values in found], next_cursor=next_cursor, now=now)


async def filter_choices(session: AsyncSession, *, visible_teams: frozenset[int] | None
                         ) -> tuple[list[tuple[int, str]], list[str]]:
    """(teams the user may pick as (id, name), every source's name) for the filter form."""
    teams = select(col(Team.id), col(Team.name)).order_by(col(Team.name))
    if visible_teams is not None:
        teams = teams.where(col(Team.id).in_(sorted(visible_teams)))
    team_rows = [(team_id, name) for team_id, name in (await session.execute(teams)).tuples()
                 if team_id is not None]
    sources = select(col(Source.name)).order_by(col(Source.name))
    return team_rows, list((await session.execute(sources)).scalars().all())
