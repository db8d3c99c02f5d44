"""What the dashboard's pages read, each in one session of its own (adapters/web only renders it).

Every read begins with the newest alert event id: a page names it to its live stream (`?after=`), so
a change committed after this read is streamed to the page, never lost between render and subscribe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.actions.table import ROUTES, mail_kit
from bot.alerts.lifecycle import Refused
from bot.cards.views import load_card
from bot.config.snapshot import ConfigSnapshot
from bot.context import Context
from bot.domain import utcnow
from bot.web.actions import WebAction, web_actions, with_form
from bot.web.users import WebUser, can_see_team
from storage import queries
from storage.db import SessionFactory
from storage.models import Alert
from storage.queries import systemic as systemic_queries
from storage.queries.dashboard import QueueFilter, QueuePage, filter_choices, queue_page
from storage.queries.timeline import AlertChange, events_after, latest_event_id, timeline

KEY_MAX = 32  # Alert.key


async def visible_alert(session: AsyncSession, user: WebUser, key: str) -> Alert | None:
    """The alert `key` if this user may see it (None for another team's alert: not revealed)."""
    if len(key) > KEY_MAX:
        return None
    alert = await queries.get_alert(session, key=key)
    if alert is None or alert.id is None or not can_see_team(user, alert.team_id):
        return None
    return alert


async def shown_for(session: AsyncSession, ctx: Context, alert: Alert, user: WebUser,
                    web_action: WebAction) -> WebAction:
    """`web_action` with the form its route makes for this alert and user (Reply: the draft; Resolve:
    a systemic case's "also resolve its open alerts"); `Refused` when the route refuses to make one."""
    route = ROUTES[web_action.action]
    if route.prefill is None:
        return web_action
    kit = mail_kit(ctx, web_action.action)
    return with_form(web_action, await route.prefill(session, alert, user.actor, kit))


async def _offered(session: AsyncSession, ctx: Context, alert: Alert, user: WebUser,
                   config: ConfigSnapshot) -> list[WebAction]:
    """The actions this user may take on `alert` now: each route's guard (and prefill) decides."""
    offered: list[WebAction] = []
    for web_action in web_actions().values():
        try:
            ROUTES[web_action.action].guard(alert, user.actor, config)
            offered.append(await shown_for(session, ctx, alert, user, web_action))
        except Refused:
            continue
    return offered


async def alert_page(ctx: Context, user: WebUser, key: str) -> dict[str, Any] | None:
    """An alert's page: card, systemic links, timeline and the actions offered; None when not visible."""
    config = await ctx.config.get()
    async with ctx.sessions() as session:
        newest = await latest_event_id(session)  # first: a change after this read is streamed
        alert = await visible_alert(session, user, key)
        if alert is None or alert.id is None:
            return None
        card = await load_card(session, alert_id=alert.id, audience="team", now=utcnow())
        parents = (await systemic_queries.parents_of(session, alert_ids=[alert.id])).get(alert.id, [])
        issue = await systemic_queries.systemic_for_alert(session, alert_id=alert.id)
        children = await systemic_queries.children_of(session, alert_id=alert.id) if issue else []
        return {
            "key": alert.key, "card": card, "parents": parents, "systemic": issue is not None,
            "children": children, "timeline": await timeline(session, alert_id=alert.id),
            "actions": await _offered(session, ctx, alert, user, config),
            "systemic_summary": getattr(card, "systemic_summary", None), "newest_event": newest,
        }


@dataclass(frozen=True)
class ActionForm:
    """The form an action shows this user on this alert now, or why not."""

    found: bool
    shown: WebAction | None = None
    refused: str | None = None


async def action_form(ctx: Context, user: WebUser, key: str, web_action: WebAction) -> ActionForm:
    async with ctx.sessions() as session:
        alert = await visible_alert(session, user, key)
        if alert is None:
            return ActionForm(found=False)
        try:
            return ActionForm(found=True, shown=await shown_for(session, ctx, alert, user, web_action))
        except Refused as refused:
            return ActionForm(found=True, refused=refused.message)


async def newest_event_id(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return await latest_event_id(session)


async def changes_after(sessions: SessionFactory, *, after_id: int, limit: int) -> list[AlertChange]:
    async with sessions() as session:
        return await events_after(session, after_id=after_id, limit=limit)


async def queue_rows(ctx: Context, *, filters: QueueFilter, now: datetime, cursor: str | None,
                     limit: int) -> QueuePage:
    async with ctx.sessions() as session:
        return await queue_page(session, filters=filters, now=now, cursor=cursor, limit=limit)


async def queue_choices(ctx: Context, *, visible_teams: frozenset[int] | None
                        ) -> tuple[list[tuple[int, str]], list[str]]:
    """(teams the user may pick, every source's name) for the filter form."""
    async with ctx.sessions() as session:
        return await filter_choices(session, visible_teams=visible_teams)
