"""'Did we fix it?': one e-mail to the customer some time after their alert was resolved.

Resolving leaves `follow_up_status` `asked` (the resolver ticked Follow-up) or `unasked`
(bot/alerts/lifecycle.py `plan_resolve`). A periodic sweep (jobs/mail.py) then works like the
acknowledgement's (bot/mail/ack.py), each step one transaction:

1. `schedule`: the team's policy decides whether the customer is asked at all — `detractors` (default):
   when ticked, or when the customer is a detractor (NPS ≤ 6) and the outcome was not "unreachable" or
   "not actionable"; `asked`: only when ticked; `off`: never — and when: `resolved_at` + the team's
   `follow_up_delay` (HOTLOOP_FOLLOW_UP_DELAY, default 2 days). Status `waiting`, or `none`.
2. `queue_due`: a waiting alert whose time has come gets a `followup` row (its link's nonce, expiring in
   30 days) and an `email.send` outbox row, unless the alert was reopened meanwhile or the address is
   unusable (`none`), the address unsubscribed or was asked in the last 30 days (`skipped`, with a
   `follow_up_skipped` event). No HOTLOOP_PUBLIC_URL: no link could reach us, nothing is sent.

The e-mail links to `/f/<token>` ("yes") and `/f/<token>?resolved=no`; the page and the answer are
bot/mail/followup_answer.py's and adapters/mail/followup_routes.py's.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from jinja2 import TemplateError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Outcome
from bot.mail.ack import first_name
from bot.mail.address import address_hash, usable_address
from bot.mail.kit import MailKit
from bot.mail.language import pick_language
from bot.mail.message import Mail, email_row
from bot.mail.policy import TeamMail
from bot.mail.sweeps import in_batches
from storage import queries
from storage.db import SessionFactory
from storage.models import AlertEvent, FollowUp, Outbox
from storage.queries import followup as followup_queries
from storage.queries import mail as mail_queries
from storage.queries.followup import DueFollowUp, ResolvedAlert

log = structlog.get_logger("hotloop.mail")

FOLLOW_UP_VALID = timedelta(days=30)  # how long the link works
ONE_PER_CUSTOMER = timedelta(days=30)  # at most one follow-up per customer (address hash) in this time
LATE_AFTER = timedelta(days=7)  # a sweep that was down for a week does not send stale questions
NOT_FOR = frozenset({Outcome.UNREACHABLE.value, Outcome.NOT_ACTIONABLE.value})


@dataclass
class FollowUpSweep:
    scheduled: int = 0
    queued: int = 0
    skipped: int = 0
    not_wanted: int = 0


def wanted(alert: ResolvedAlert, team: TeamMail) -> bool:
    """Does the team's policy ask this alert's customer (module docstring, step 1)?"""
    if team.follow_up == "off":
        return False
    if alert.asked:
        return True
    detractor = alert.nps is not None and alert.nps <= 6
    return team.follow_up == "detractors" and detractor and alert.outcome not in NOT_FOR


async def schedule(session: AsyncSession, kit: MailKit, *, batch: int) -> int:
    rows = await followup_queries.unscheduled(session, limit=batch)
    if not rows:
        return 0
    teams = await mail_queries.team_mail_rows(session)
    due: list[tuple[int, datetime]] = []
    off: dict[int, str] = {}
    for alert in rows:
        team = kit.team_mail(teams.get(alert.team_id))
        if wanted(alert, team):
            due.append((alert.alert_id, alert.resolved_at + timedelta(seconds=team.follow_up_delay)))
        else:
            off[alert.alert_id] = "none"
    await followup_queries.set_due(session, due=due)
    await followup_queries.set_status(session, statuses=off)
    return len(rows)


def follow_up_mail(due: DueFollowUp, team: TeamMail, kit: MailKit, *, address: str, token: str,
                   language: str) -> Mail:
    base = kit.settings.public_url.rstrip("/")
    rendered = kit.templates.render(
        "followup", language=language, for_team=team.team_name, team=team.display_name,
        first_name=first_name(due.customer_name), alert_key=due.key or "",
        yes_url=f"{base}/f/{token}", no_url=f"{base}/f/{token}?resolved=no",
        unsubscribe_url=kit.unsubscribe_url(address=address, language=language),
    )
    return Mail(purpose="follow_up", to=address, sender=team.sender, reply_to=team.reply_to,
                subject=rendered.subject, text=rendered.text, html=rendered.html, language=language,
                unsubscribe_url=kit.unsubscribe_url(address=address, language=language), alert_key=due.key)


def skip_event(*, alert_id: int, reason: str, now: datetime) -> dict[str, Any]:
    return {"alert_id": alert_id, "kind": "follow_up_skipped", "actor_id": "hotloop", "actor_name": "hotloop",
            "platform": "hotloop", "at": now, "data": {"reason": reason}}


def decide(due: DueFollowUp, kit: MailKit, blocked: set[str], asked: set[str]) -> tuple[str, str | None]:
    """(new follow_up_status, why it is skipped) for one due alert: "queued", "none" or "skipped"."""
    address = usable_address(due.email)
    if address is None or not due.still_resolved or not kit.settings.public_url:
        return "none", None
    hashed = address_hash(address)
    if hashed in blocked:
        return "skipped", "unsubscribed"
    if hashed in asked:
        return "skipped", "asked in the last 30 days"
    asked.add(hashed)  # the next alert of this customer in the same batch is skipped too
    return "queued", None


@dataclass
class _Batch:
    statuses: dict[int, str]
    follow_ups: list[dict[str, Any]]
    emails: list[dict[str, Any]]
    events: list[dict[str, Any]]


def _queue_one(item: DueFollowUp, team: TeamMail, kit: MailKit, batch: _Batch, now: datetime) -> str | None:
    """The follow-up row and its e-mail for one alert; → why it was skipped instead (a template error)."""
    address = str(usable_address(item.email))
    language = pick_language(attributes=item.attributes, source_mapping=item.source_mapping,
                             team_language=team.language)
    nonce = secrets.token_urlsafe(16)
    expires = now + FOLLOW_UP_VALID
    token = kit.links.follow_up_token(nonce=nonce, alert_id=item.alert_id, language=language, expires=expires)
    try:
        mail = follow_up_mail(item, team, kit, address=address, token=token, language=language)
    except TemplateError as error:  # an override template that does not render: reported, not sent
        log.error("mail.template_error", alert=item.key, error=type(error).__name__)
        return "template error"
    batch.follow_ups.append({"alert_id": item.alert_id, "nonce": nonce, "address_hash": address_hash(address),
                             "language": language, "created_at": now, "expires_at": expires})
    batch.emails.append(email_row(mail, alert_id=item.alert_id, now=now))
    return None


async def queue_due(
    session: AsyncSession, kit: MailKit, *, now: datetime, batch_size: int, result: FollowUpSweep
) -> int:
    due = await followup_queries.take_due(session, now=now, limit=batch_size)
    if not due:
        return 0
    teams = await mail_queries.team_mail_rows(session)
    hashes = [address_hash(a) for d in due if (a := usable_address(d.email))]
    blocked = await mail_queries.suppressed(session, hashes=hashes)
    asked = await followup_queries.asked_since(session, hashes=hashes, since=now - ONE_PER_CUSTOMER)
    batch = _Batch({}, [], [], [])
    for item in due:
        team = kit.team_mail(teams.get(item.team_id))
        status, reason = decide(item, kit, blocked, asked)
        if status == "none" or now - item.due_at > LATE_AFTER:
            status, reason = "none", None
        if status == "queued" and (reason := _queue_one(item, team, kit, batch, now)) is not None:
            status = "skipped"
        if reason is not None:
            batch.events.append(skip_event(alert_id=item.alert_id, reason=reason, now=now))
        batch.statuses[item.alert_id] = status
    await queries.insert_many(session, model=FollowUp, rows=batch.follow_ups)
    await queries.insert_many(session, model=Outbox, rows=batch.emails)
    await queries.insert_many(session, model=AlertEvent, rows=batch.events)
    await followup_queries.set_status(session, statuses=batch.statuses)
    result.queued += len(batch.emails)
    result.skipped += len(batch.events)
    result.not_wanted += sum(1 for s in batch.statuses.values() if s == "none")
    return len(due)


async def sweep_follow_ups(
    sessions: SessionFactory, kit: MailKit, *, now: datetime, batch: int = 500, max_batches: int = 20
) -> FollowUpSweep:
    """Schedule newly resolved alerts, then queue the follow-ups that are due, a batch per transaction,
    until nothing is left or `max_batches` ran (the rest waits for the next tick)."""
    result = FollowUpSweep()
    result.scheduled = await in_batches(sessions, lambda session: schedule(session, kit, batch=batch),
                                        batch=batch, max_batches=max_batches)
    await in_batches(sessions, lambda session: queue_due(session, kit, now=now, batch_size=batch,
                                                         result=result),
                     batch=batch, max_batches=max_batches)
    return result
