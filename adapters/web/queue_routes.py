"""The queue (/app): saved views as tabs, a filter form (GET), one keyset page of alerts, "Next page".

`mount_queue(app)` mounts the queue, the alert pages (adapters/web/alert_routes.py) and the event stream
(adapters/web/events.py). Every page needs a session (`require_user`); a user sees the alerts of the
teams they may see (`WebUser.teams`; an admin every team). Bad filter values answer 422 with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from adapters.web import alert_routes, events
from adapters.web.session import require_user
from adapters.web.templating import render
from bot.cards.model import comment_start, inert
from bot.context import Context
from bot.domain import utcnow
from bot.web.pages import newest_event_id, queue_choices, queue_rows
from bot.web.users import WebUser
from storage.queries.dashboard import (
    DEFAULT_VIEW,
    KINDS,
    SEVERITIES,
    STATUSES,
    VIEWS,
    CursorError,
    QueueFilter,
    QueuePage,
    QueueRow,
)

VIEW_LABELS = (("needs-human", "Needs a human"), ("all", "All"), ("unassigned", "Unassigned"),
               ("mine", "Mine"), ("team", "My teams"), ("overdue", "Overdue"), ("systemic", "Systemic"))
PARAMS = ("view", "team", "severity", "status", "source", "kind", "location", "from", "to")
PAGE_SIZE = 50
TEXT_MAX = 255
CURSOR_MAX = 1000

router = APIRouter()


class QueryError(ValueError):
    """A filter value the queue cannot use: 422 with this message."""


def _choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = params.get(name) or None
    if value is not None and value not in allowed:
        raise QueryError(f"{name} must be one of: {', '.join(allowed)}")
    return value


def _day(params: Mapping[str, str], name: str) -> datetime | None:
    value = params.get(name) or None
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise QueryError(f"{name} must be a date like 2026-12-01") from exc


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = (params.get(name) or "").strip() or None
    if value is not None and len(value) > TEXT_MAX:
        raise QueryError(f"{name} is longer than {TEXT_MAX} characters")
    return value


def _team(params: Mapping[str, str]) -> int | None:
    value = params.get("team") or None
    if value is None:
        return None
    if not value.isdigit() or len(value) > 12:
        raise QueryError("team must be a team's number")
    return int(value)


def parse_filters(params: Mapping[str, str], user: WebUser) -> QueueFilter:
    """The filter the query string asks for, scoped to what `user` may see; `QueryError` if unusable."""
    view = params.get("view") or DEFAULT_VIEW
    if view not in VIEWS:
        raise QueryError(f"view must be one of: {', '.join(VIEWS)}")
    until = _day(params, "to")
    return QueueFilter(
        view=view, visible_teams=None if user.is_admin else user.teams, my_teams=user.teams,
        me=(user.platform, user.user_id), team_id=_team(params),
        severity=_choice(params, "severity", SEVERITIES), status=_choice(params, "status", STATUSES),
        kind=_choice(params, "kind", KINDS), source=_text(params, "source"),
        location=_text(params, "location"), created_from=_day(params, "from"),
        created_before=until + timedelta(days=1) if until is not None else None,
    )


def _shown(row: QueueRow) -> QueueRow:
    """Customer text as the page shows it: invisible characters removed, the comment's start only."""
    return replace(row, comment=comment_start(inert(row.comment)) if row.comment else None,
                   customer_name=inert(row.customer_name) if row.customer_name else None)


async def _page(request: Request, user: WebUser) -> tuple[QueueFilter, QueuePage, dict[str, str]]:
    params = {name: request.query_params.get(name, "") for name in PARAMS}
    filters = parse_filters(params, user)
    cursor = request.query_params.get("cursor") or None
    if cursor is not None and len(cursor) > CURSOR_MAX:
        raise QueryError("the page link is not valid; start from the first page")
    ctx: Context = request.app.state.ctx
    try:
        page = await queue_rows(ctx, filters=filters, now=utcnow(), cursor=cursor, limit=PAGE_SIZE)
    except CursorError as exc:
        raise QueryError(str(exc)) from exc
    return filters, replace(page, rows=[_shown(r) for r in page.rows]), params


def _refused(request: Request, error: QueryError) -> HTMLResponse:
    return render(request, "message.html.j2", {"heading": "Check the filters", "lines": [str(error)],
                                               "tone": "warn"}, status_code=422)


def _link(path: str, params: Mapping[str, str], **extra: str) -> str:
    kept = {name: value for name, value in {**params, **extra}.items() if value}
    return f"{path}?{urlencode(kept)}" if kept else path


@router.get("/app", response_class=HTMLResponse)
async def queue(request: Request, user: WebUser = Depends(require_user)) -> Response:
    ctx: Context = request.app.state.ctx
    events_url = events.stream_url(await newest_event_id(ctx.sessions))  # first: later changes are streamed
    try:
        filters, page, params = await _page(request, user)
    except QueryError as error:
        return _refused(request, error)
    teams, sources = await queue_choices(ctx, visible_teams=filters.visible_teams)
    cursor = request.query_params.get("cursor") or ""
    context: dict[str, Any] = {
        "views": VIEW_LABELS, "view": filters.view, "params": params, "teams": teams, "sources": sources,
        "severities": SEVERITIES, "statuses": STATUSES, "kinds": KINDS, "rows": page.rows,
        "next_url": _link("/app", params, cursor=page.next_cursor) if page.next_cursor else None,
        "fragment_url": _link("/app/queue/fragment", params, cursor=cursor), "events_url": events_url,
    }
    return render(request, "queue.html.j2", context)


@router.get("/app/queue/fragment", response_class=HTMLResponse)
async def queue_fragment(request: Request, user: WebUser = Depends(require_user)) -> Response:
    """The table's rows alone, for app.js to swap in when an alert changed."""
    try:
        _, page, _ = await _page(request, user)
    except QueryError as error:
        return _refused(request, error)
    return render(request, "_queue_rows.html.j2", {"rows": page.rows})


def mount_queue(app: FastAPI) -> None:
    """The queue, the alert pages and actions, and the live event stream."""
    app.include_router(router)
    app.include_router(alert_routes.router)
    app.include_router(events.router)
