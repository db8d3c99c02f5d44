"""Accept one parsed response: dedupe → rules → routing → alert + event + outbox, in ONE transaction.

The webhook answers 2xx only after this commits, so an accepted response is never lost. The same
response sent again (platform retry, or a later part of it) never makes a second alert: a repeat
is a no-op, and a richer part updates the feedback, re-runs the rules and may raise the severity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.lifecycle import SYSTEM
from bot.alerts.writer import AlertValues, AlertWrite, Change, write_changes
from bot.config.snapshot import ConfigSnapshot
from bot.domain import FeedbackIn, Severity
from bot.outbox import card_destinations, card_post_values
from bot.rules.evaluate import Decision, evaluate
from bot.rules.routing import choose_team
from bot.sla.deadlines import due_times
from bot.sla.policy import heads_up_at
from storage import queries
from storage.db import SessionFactory, transaction
from storage.models import Alert, AlertEvent, Feedback, Outbox
from storage.queries import alerts as alert_queries

UPDATE_ATTEMPTS = 5  # a later part that keeps losing to concurrent clicks: re-read, add it on top, again


@dataclass(frozen=True)
class IngestResult:
    alert_key: str | None
    duplicate: bool  # the response was already known
    changed: bool = True  # False for an exact repeat
    severity: str | None = None


class _FeedbackValues(TypedDict):
    submitted_at: datetime | None
    customer_id: str | None
    customer_name: str | None
    customer_email: str | None
    customer_phone: str | None
    nps: int | None
    contact_requested: bool
    comment: str | None
    answers: list[dict[str, Any]]
    attributes: dict[str, str]
    partial: bool


def feedback_values(item: FeedbackIn) -> _FeedbackValues:
    return {
        "submitted_at": item.submitted_at,
        "customer_id": item.customer.id,
        "customer_name": item.customer.name,
        "customer_email": item.customer.email,
        "customer_phone": item.customer.phone,
        "nps": item.nps,
        "contact_requested": item.contact_requested,
        "comment": item.comment,
        "answers": [a.model_dump(exclude_none=True) for a in item.answers],
        "attributes": dict(item.attributes),
        "partial": item.partial,
    }


def alert_key_for(feedback_id: int) -> str:
    """The alert's human key comes from its feedback row (1:1), so the INSERT carries it: no UPDATE."""
    return f"HA-{1000 + feedback_id}"


@dataclass(frozen=True)
class AlertPlan:
    """Everything a new alert writes, decided before any row is: the alert, its event, its cards."""

    values: dict[str, Any]  # the alert row
    event: dict[str, Any]  # the "created" event's data
    places: list[tuple[str, str]]  # (platform, channel) of each first card


def plan_alert(
    *,
    feedback_id: int,
    item: FeedbackIn,
    decision: Decision,
    severity: Severity,
    config: ConfigSnapshot,
    source_name: str,
    now: datetime,
) -> AlertPlan:
    routing = choose_team(
        routes=config.routes,
        default_team_id=config.default_team_id,
        feedback=item,
        severity=severity,
        source=source_name,
    )
    team = config.team(routing.team_id)
    claim_due, resolve_due = due_times(config, team=team, severity=severity, start=now)
    heads_up = heads_up_at(now, claim_due, team.hours)  # the sweep's first look: the 75 % heads-up
    values = {
        "key": alert_key_for(feedback_id), "feedback_id": feedback_id, "severity": severity.value,
        "status": "open", "team_id": team.id, "routed_by_default": routing.by_default,
        "reasons": list(decision.reasons), "created_at": now, "updated_at": now,
        "claim_due_at": claim_due, "resolve_due_at": resolve_due, "next_nag_at": heads_up,
        "next_due_at": heads_up, "escalation_level": 0, "nag_count": 0, "version": 1,
    }
    event = {"severity": severity.value, "rule": decision.rule, "team": team.name,
             "default_route": routing.by_default}
    return AlertPlan(values, event, card_destinations(team, config.team(config.default_team_id)))


def feedback_row(source_id: int, item: FeedbackIn, now: datetime) -> dict[str, Any]:
    """A response's feedback row, as inserted."""
    return {"source_id": source_id, "external_id": item.external_id, "received_at": now,
            **feedback_values(item)}


async def write_new_alerts(session: AsyncSession, plans: Sequence[AlertPlan]) -> None:
    """New alerts with their "created" events and first cards: one INSERT per table, for one alert or
    a whole group-commit batch."""
    alert_ids = await queries.insert_alerts_many(session, rows=[plan.values for plan in plans])
    events: list[dict[str, Any]] = []
    cards: list[dict[str, Any]] = []
    for plan in plans:
        alert_id, now = alert_ids[plan.values["feedback_id"]], plan.values["created_at"]
        events.append({"alert_id": alert_id, "kind": "created", "actor_id": None, "actor_name": None,
                       "platform": "hotloop", "at": now, "data": plan.event})
        cards += card_post_values(alert_id=alert_id, places=plan.places, audience="team", now=now)
    await queries.insert_many(session, model=AlertEvent, rows=events)
    await queries.insert_many(session, model=Outbox, rows=cards)


async def _update_existing(
    session: AsyncSession,
    *,
    feedback: Feedback,
    item: FeedbackIn,
    config: ConfigSnapshot,
    source_name: str,
    alarming_words: list[str],
    now: datetime,
) -> IngestResult:
    alert = await queries.alert_for_feedback(session, feedback_id=feedback.id or 0)
    values = feedback_values(item)
    repeat = all(getattr(feedback, k) == v for k, v in values.items() if k != "partial")
    if repeat or (item.partial and not feedback.partial):
        # an exact repeat, or an earlier part arriving after the finished response: nothing to do
        return IngestResult(alert.key if alert else None, duplicate=True, changed=False,
                            severity=alert.severity if alert else None)
    for name, value in values.items():
        setattr(feedback, name, value)
    decision = evaluate(item, rules=config.rules, alarming_words=alarming_words, source=source_name)
    if alert is None:
        if decision.severity is None:
            return IngestResult(None, duplicate=True)
        plan = plan_alert(feedback_id=feedback.id or 0, item=item, decision=decision,
                          severity=decision.severity, config=config, source_name=source_name, now=now)
        await write_new_alerts(session, [plan])
        return IngestResult(str(plan.values["key"]), duplicate=True, severity=decision.severity.value)
    return await _raise_severity(session, alert=alert, decision=decision, now=now)


async def _raise_severity(
    session: AsyncSession, *, alert: Alert, decision: Decision, now: datetime
) -> IngestResult:
    """A later part of the response: the card gains it; severity may rise, never fall. Written by the
    one alert writer: a claim (or an SLA step) committed meanwhile wins, and the part is added on top
    of what it wrote."""
    for _ in range(UPDATE_ATTEMPTS):
        change = _later_part(alert, decision)
        if await write_changes(session, writes=[AlertWrite(alert, [change], SYSTEM)], now=now):
            return IngestResult(alert.key, duplicate=True, severity=alert.severity)
        fresh = await alert_queries.reload_alert(session, alert_id=alert.id or 0)
        assert fresh is not None  # alerts are never deleted
        alert = fresh
    raise RuntimeError(f"{alert.key} kept changing while a later part of its response was added")


def _later_part(alert: Alert, decision: Decision) -> Change:
    old = Severity(alert.severity)
    new = Severity.max(old, decision.severity) or old
    reasons = sorted(set(alert.reasons) | set(decision.reasons))
    values: AlertValues = {"severity": new.value, "reasons": reasons}
    raised = f"Severity raised {old.value} → {new.value}: the customer added to their response"
    return Change(values, "updated", f"{alert.key} updated", raised if new is not old else None,
                  event_data={"severity_from": old.value, "severity_to": new.value})


async def ingest(
    sessions: SessionFactory,
    *,
    source_id: int,
    source_name: str,
    item: FeedbackIn,
    config: ConfigSnapshot,
    alarming_words: list[str],
    now: datetime,
) -> IngestResult:
    for attempt in (1, 2):
        try:
            async with transaction(sessions) as session:
                return await ingest_in(session, source_id=source_id, source_name=source_name, item=item,
                                       config=config, alarming_words=alarming_words, now=now)
        except IntegrityError:
            # a concurrent delivery of the same response won the unique (source, external id) race:
            # the second attempt finds it and treats this one as the repeat it is
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def ingest_in(
    session: AsyncSession,
    *,
    source_id: int,
    source_name: str,
    item: FeedbackIn,
    config: ConfigSnapshot,
    alarming_words: list[str],
    now: datetime,
) -> IngestResult:
    """The ingest of one response inside the caller's transaction."""
    feedback_id = await queries.insert_feedback_if_new(session, values=feedback_row(source_id, item, now))
    if feedback_id is None:  # known response: a repeat, or a later part of it
        existing = await queries.find_feedback(session, source_id=source_id, external_id=item.external_id)
        assert existing is not None
        return await _update_existing(session, feedback=existing, item=item, config=config,
                                      source_name=source_name, alarming_words=alarming_words, now=now)
    result, plan = decide_new(feedback_id=feedback_id, item=item, config=config,
                              alarming_words=alarming_words, source_name=source_name, now=now)
    if plan is not None:
        await write_new_alerts(session, [plan])
    return result


def decide_new(
    *,
    feedback_id: int,
    item: FeedbackIn,
    config: ConfigSnapshot,
    alarming_words: list[str],
    source_name: str,
    now: datetime,
) -> tuple[IngestResult, AlertPlan | None]:
    """A response seen for the first time: its answer, and the alert to write (None: no alert needed)."""
    decision = evaluate(item, rules=config.rules, alarming_words=alarming_words, source=source_name)
    if decision.severity is None:
        return IngestResult(None, duplicate=False), None
    plan = plan_alert(feedback_id=feedback_id, item=item, decision=decision, severity=decision.severity,
                      config=config, source_name=source_name, now=now)
    return IngestResult(str(plan.values["key"]), duplicate=False, severity=decision.severity.value), plan
