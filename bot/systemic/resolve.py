"""Resolve a systemic case as one: the parent and, when asked ("Also resolve its N open alerts"), every
open child with the same outcome and root cause, in ONE transaction. Each child keeps its own "resolved"
event and thread line, written by the one alert writer (`write_changes`, one `AlertWrite` per child).

A child someone else owns and the resolver may not manage (bot/alerts/lifecycle.py `guard_resolve`) is
left open; a child that changed since it was read is read again under the lock and decided again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.lifecycle import Actor, AlertNotFoundError, Plan, Refused, TransitionResult
from bot.alerts.writer import AlertWrite, write_changes
from storage import queries
from storage.db import SessionFactory, transaction
from storage.models import Alert
from storage.queries import alerts as alert_queries
from storage.queries import systemic as systemic_queries

CHILD_ATTEMPTS = 3  # a child that keeps changing under us is left for its own resolve


async def apply_with_children(
    sessions: SessionFactory, *, key: str, actor: Actor, now: datetime, plan: Plan, child_plan: Plan,
    attempts: int = 5,
) -> TransitionResult:
    """`bot.alerts.lifecycle.apply` for the parent, then `child_plan` on each open child: one commit."""
    for _ in range(attempts):
        async with transaction(sessions) as session:
            alert = await queries.get_alert(session, key=key)
            if alert is None or alert.id is None:
                raise AlertNotFoundError(f"no alert {key}")
            try:
                change = plan(alert)
            except Refused as refused:
                return TransitionResult(False, refused.message, alert)
            if not await write_changes(session, writes=[AlertWrite(alert, [change], actor)], now=now):
                continue  # lost a race on the parent: read again, decide again
            done = await resolve_children(session, parent=alert, actor=actor, now=now, plan=child_plan) \
                if alert.kind == "systemic" else 0
            also = f" with its {done} open alert{'s' if done != 1 else ''}" if done else ""
            return TransitionResult(True, change.message + also, alert)
    return TransitionResult(False, f"{key} is changing fast; try again", None)


async def resolve_children(session: AsyncSession, *, parent: Alert, actor: Actor, now: datetime,
                           plan: Plan) -> int:
    """`plan` on each open child of `parent` in the caller's transaction; → the children written."""
    assert parent.id is not None
    pending = await systemic_queries.open_children(session, parent_alert_id=parent.id)
    written = 0
    for _ in range(CHILD_ATTEMPTS):
        writes = []
        for child in pending:
            try:
                change = plan(child)
            except Refused:  # owned by someone the resolver may not overrule, or resolved meanwhile
                continue
            change.event_data = {**change.event_data, "systemic": parent.key}
            if change.thread_text:
                change.thread_text += f" · with {parent.key}"
            writes.append(AlertWrite(child, [change], actor))
        won = await write_changes(session, writes=writes, now=now)
        written += len(won)
        lost = {w.alert_id for w in writes} - {w.alert_id for w in won}
        if not lost:
            break
        pending = [a for a in [await alert_queries.reload_alert(session, alert_id=i) for i in sorted(lost)]
                   if a is not None]
    return written
