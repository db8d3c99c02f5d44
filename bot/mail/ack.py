"""The acknowledgement: "we received your feedback; <team> will get back to you by <time>".

A periodic sweep (jobs/mail.py) does it in two steps, each one transaction:

1. `schedule`: every new alert (ack_status NULL) is given its due time, `created_at` + the team's
   `ack_delay` (status `waiting`), or `none` when the team's policy is off. Nothing else is decided yet:
   a later part of the response may still add the address or the contact request.
2. `queue_due`: each waiting alert whose time has come is decided on its data as it is then. Not wanted
   (no usable address, not a contact request under the default policy, more than a day late) → `none`;
   someone already contacted the customer, or the address unsubscribed → `skipped`, with an
   `ack_skipped` event; otherwise the e-mail is rendered and written as an `email.send` outbox row
   (status `queued`). The send itself, and the `acknowledged` event, are bot/mail/sending.py's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from jinja2 import TemplateError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.mail.address import address_hash, usable_address
from bot.mail.kit import MailKit
from bot.mail.language import format_when, pick_language
from bot.mail.message import Mail, email_row
from bot.mail.policy import AckPolicy, TeamMail
from bot.mail.sweeps import in_batches
from storage import queries
from storage.db import SessionFactory
from storage.models import AlertEvent, Outbox
from storage.queries import mail as mail_queries
from storage.queries.mail import DueAck

log = structlog.get_logger("hotloop.mail")

ACK_LATE_AFTER = timedelta(days=1)  # "we received your feedback" a day late helps no one: not sent


@dataclass
class AckSweep:
    scheduled: int = 0
    queued: int = 0
    skipped: int = 0
    not_wanted: int = 0


def first_name(full_name: str | None) -> str | None:
    parts = (full_name or "").split()
    return parts[0][:40] if parts else None


def respond_by(due: DueAck, now: datetime) -> datetime | None:
    """The promise in the e-mail: the team's first-response deadline (the claim SLA), else the resolve
    deadline; none when both have passed (the mail then says "as soon as possible")."""
    return next((t for t in (due.claim_due_at, due.resolve_due_at) if t is not None and t > now), None)


def ack_mail(due: DueAck, team: TeamMail, kit: MailKit, *, address: str, now: datetime) -> Mail:
    language = pick_language(attributes=due.attributes, source_mapping=due.source_mapping,
                             team_language=team.language)
    deadline = respond_by(due, now)
    unsubscribe = kit.unsubscribe_url(address=address, language=language)
    rendered = kit.templates.render(
        "ack", language=language, for_team=team.team_name, team=team.display_name,
        first_name=first_name(due.customer_name), alert_key=due.key or "", unsubscribe_url=unsubscribe,
        respond_by=format_when(deadline, language=language, timezone=team.timezone) if deadline else None,
    )
    return Mail(purpose="ack", to=address, sender=team.sender, reply_to=team.reply_to,
                subject=rendered.subject, text=rendered.text, html=rendered.html, language=language,
                unsubscribe_url=unsubscribe, alert_key=due.key)


def skip_event(*, alert_id: int, reason: str, now: datetime) -> dict[str, Any]:
    return {"alert_id": alert_id, "kind": "ack_skipped", "actor_id": "hotloop", "actor_name": "hotloop",
            "platform": "hotloop", "at": now, "data": {"reason": reason}}


async def schedule(session: AsyncSession, kit: MailKit, *, batch: int) -> int:
    rows = await mail_queries.unscheduled_acks(session, limit=batch)
    if not rows:
        return 0
    teams = await mail_queries.team_mail_rows(session)
    due: list[tuple[int, datetime]] = []
    off: dict[int, str] = {}
    for alert_id, team_id, created_at in rows:
        team = kit.team_mail(teams.get(team_id))
        if team.ack is AckPolicy.OFF:
            off[alert_id] = "none"
        else:
            due.append((alert_id, created_at + timedelta(seconds=team.ack_delay)))
    await mail_queries.set_ack_due(session, due=due)
    await mail_queries.set_ack_status(session, statuses=off)
    return len(rows)


def decide(due: DueAck, team: TeamMail, blocked: set[str], now: datetime) -> tuple[str, str | None]:
    """(new ack_status, why it is skipped) for one due alert: "queued", "none" or "skipped"."""
    address = usable_address(due.email)
    if address is None or due.acknowledged_at is not None or now - due.ack_due_at > ACK_LATE_AFTER:
        return "none", None
    if not team.wants_ack(contact_requested=due.contact_requested):
        return "none", None
    if due.first_contact_at is not None:
        return "skipped", "contacted"
    if address_hash(address) in blocked:
        return "skipped", "unsubscribed"
    return "queued", None


async def queue_due(
    session: AsyncSession, kit: MailKit, *, now: datetime, batch: int, result: AckSweep
) -> None:
    due = await mail_queries.take_due_acks(session, now=now, limit=batch)
    if not due:
        return
    teams = await mail_queries.team_mail_rows(session)
    addresses = [a for d in due if (a := usable_address(d.email))]
    blocked = await mail_queries.suppressed(session, hashes=[address_hash(a) for a in addresses])
    statuses: dict[int, str] = {}
    rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for item in due:
        team = kit.team_mail(teams.get(item.team_id))
        status, reason = decide(item, team, blocked, now)
        if status == "queued":
            try:
                mail = ack_mail(item, team, kit, address=str(usable_address(item.email)), now=now)
            except TemplateError as error:  # an override template that does not render: reported, not sent
                log.error("mail.template_error", alert=item.key, error=type(error).__name__)
                status, reason = "skipped", "template error"
            else:
                rows.append(email_row(mail, alert_id=item.alert_id, now=now))
        if reason is not None:
            events.append(skip_event(alert_id=item.alert_id, reason=reason, now=now))
        statuses[item.alert_id] = status
    await queries.insert_many(session, model=Outbox, rows=rows)
    await queries.insert_many(session, model=AlertEvent, rows=events)
    await mail_queries.set_ack_status(session, statuses=statuses)
    result.queued += len(rows)
    result.skipped += len(events)
    result.not_wanted += sum(1 for s in statuses.values() if s == "none")


async def sweep_acks(
    sessions: SessionFactory, kit: MailKit, *, now: datetime, batch: int = 500, max_batches: int = 20
) -> AckSweep:
    """Schedule new alerts, then queue the acknowledgements that are due (see the module docstring), a
    batch per transaction, until nothing is left or `max_batches` ran (the rest waits for the next tick)."""
    result = AckSweep()
    result.scheduled = await in_batches(sessions, lambda session: schedule(session, kit, batch=batch),
                                        batch=batch, max_batches=max_batches)

    async def queue_step(session: AsyncSession) -> int:
        decided = result.queued + result.skipped + result.not_wanted
        await queue_due(session, kit, now=now, batch=batch, result=result)
        return result.queued + result.skipped + result.not_wanted - decided

    await in_batches(sessions, queue_step, batch=batch, max_batches=max_batches)
    return result
