"""A systemic issue's case: an alert of kind "systemic" (key SYS-<n>) whose feedback row is hotloop's own
summary, so claim, note, escalate, resolve, SLA and cards work on it as on any alert.

The parent is written inside the detector's transaction (bot/systemic/detector.py), under its cursor
lock: one writer numbers SYS-<n>, and one parent per (team, dimension, value) is open at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config.snapshot import ConfigSnapshot, TeamInfo
from bot.domain import Severity
from bot.outbox import ALONE, card_destinations, card_post_values
from bot.sla.deadlines import due_times
from bot.sla.policy import heads_up_at
from bot.systemic import text
from storage import queries
from storage.models import AlertEvent, Outbox
from storage.queries import systemic as systemic_queries
from storage.queries.systemic import NewAlert, ParentRow, sys_key

SOURCE_NAME = "hotloop-systemic"  # the built-in source of every systemic case's feedback row
SOURCE_KIND = "systemic"  # source listings skip this kind
DETRACTOR_MAX = 6  # NPS 0–6


def summary_for(*, dimension: str, value: str, children: Sequence[NewAlert], window_seconds: int,
                baseline_per_window: float | None) -> str:
    """The parent's sentence: "5 detractors mention *delivery late* at location 042 in the last 2 h …".
    The location is named when every child shares one (a location parent names it itself)."""
    locations = {c.attributes.get("location") for c in children}
    location = next(iter(locations)) if len(locations) == 1 and dimension != "location" else None
    detractors = bool(children) and all(c.nps is not None and c.nps <= DETRACTOR_MAX for c in children)
    return text.summary(count=len(children), detractors=detractors, dimension=dimension, value=value,
                        location=location, window_seconds=window_seconds,
                        baseline_per_window=baseline_per_window)


def parent_places(config: ConfigSnapshot, team: TeamInfo) -> list[tuple[str, str]]:
    """The team's managers (their Teams channel and/or Slack managers channel), else the team's own
    channels, else the default team's, else the log."""
    return team.manager_destinations or card_destinations(team, config.team(config.default_team_id))


def highest_severity(children: Sequence[NewAlert]) -> Severity:
    return Severity.max(*(Severity(c.severity) for c in children)) or Severity.NORMAL


def _feedback_row(source_id: int, number: int, comment: str, dimension: str, value: str,
                  now: datetime) -> dict[str, Any]:
    return {"source_id": source_id, "external_id": sys_key(number), "received_at": now, "submitted_at": now,
            "customer_id": None, "customer_name": None, "customer_email": None, "customer_phone": None,
            "nps": None, "contact_requested": False, "comment": comment, "answers": [],
            "attributes": {dimension: value}, "partial": False}


def _alert_row(config: ConfigSnapshot, team: TeamInfo, *, number: int, feedback_id: int, severity: Severity,
               reason: str, now: datetime) -> dict[str, Any]:
    """A new alert's columns as bot/ingest/accept.py `plan_alert` writes them, of kind "systemic"; no
    customer to e-mail (ack "none")."""
    claim_due, resolve_due = due_times(config, team=team, severity=severity, start=now)
    heads_up = heads_up_at(now, claim_due, team.hours)
    return {
        "key": sys_key(number), "feedback_id": feedback_id, "severity": severity.value, "status": "open",
        "team_id": team.id, "routed_by_default": False, "reasons": [reason], "created_at": now,
        "updated_at": now, "claim_due_at": claim_due, "resolve_due_at": resolve_due, "next_nag_at": heads_up,
        "next_due_at": heads_up, "escalation_level": 0, "nag_count": 0, "version": 1, "kind": "systemic",
        "ack_status": "none",
    }


async def create_parent(
    session: AsyncSession,
    *,
    config: ConfigSnapshot,
    team_id: int,
    dimension: str,
    value: str,
    children: Sequence[NewAlert],
    window_seconds: int,
    baseline_per_window: float | None,
    now: datetime,
) -> ParentRow:
    """The SYS-<n> alert, its feedback row, its "created" event, its managers' cards and its
    SystemicIssue row. The caller adds the children's memberships."""
    team = config.team(team_id)
    number = await systemic_queries.next_systemic_number(session)
    source_id = await systemic_queries.systemic_source_id(session, name=SOURCE_NAME, now=now)
    comment = summary_for(dimension=dimension, value=value, children=children, window_seconds=window_seconds,
                          baseline_per_window=baseline_per_window)
    feedback_id = await queries.insert_feedback_if_new(
        session, values=_feedback_row(source_id, number, comment, dimension, value, now))
    assert feedback_id is not None  # SYS-<n> is new under the detector's lock
    severity = highest_severity(children)
    reason = f"systemic: {len(children)} alerts share {text.label(dimension, value)}"
    row = _alert_row(config, team, number=number, feedback_id=feedback_id, severity=severity, reason=reason,
                     now=now)
    alert_id = (await queries.insert_alerts_many(session, rows=[row]))[feedback_id]
    event = {"alert_id": alert_id, "kind": "created", "actor_id": None, "actor_name": None,
             "platform": "hotloop", "at": now,
             "data": {"severity": severity.value, "rule": None, "team": team.name, "default_route": False,
                      "systemic": {"dimension": dimension, "value": value, "children": len(children)}}}
    await queries.insert_many(session, model=AlertEvent, rows=[event])
    posts = card_post_values(alert_id=alert_id, places=parent_places(config, team), audience="managers",
                             now=now)
    for post in posts:  # its summary and children are the point: never a line of a burst digest
        post["payload"][ALONE] = True
    await queries.insert_many(session, model=Outbox, rows=posts)
    first, last = min(c.created_at for c in children), max(c.created_at for c in children)
    systemic_id = await systemic_queries.insert_systemic_issue(session, values={
        "number": number, "alert_id": alert_id, "team_id": team.id, "dimension": dimension, "value": value,
        "window_seconds": window_seconds, "baseline_per_window": baseline_per_window or 0.0,
        "child_count": 0, "first_child_at": first, "last_child_at": last, "created_at": now})
    return ParentRow(systemic_id, alert_id, number, feedback_id, "open", 0, first, last,
                     baseline_per_window or 0.0, window_seconds)
