"""Around one e-mail send (the `email.send` outbox handler in jobs/mail.py): whether it should still go,
and what a sent, skipped or bounced e-mail leaves behind. Also the one-click unsubscribe.

A sent acknowledgement is an alert change like a click: `acknowledged_at` set through the one writer
(compare-and-set), an `acknowledged` event and a thread line "Acknowledged to d•••@example.com", written
in the same transaction that marks the outbox row done.
"""

from __future__ import annotations

from datetime import datetime

from bot.alerts.lifecycle import SYSTEM
from bot.alerts.writer import AlertWrite, Change, write_changes
from bot.mail.ack import skip_event
from bot.mail.address import address_hash, masked
from bot.mail.kit import MailKit
from bot.mail.links import Unsubscribe
from bot.mail.message import Mail
from storage import queries
from storage.db import SessionFactory, transaction
from storage.models import AlertEvent
from storage.queries import followup as followup_queries
from storage.queries import mail as mail_queries

WRITE_ATTEMPTS = 5


async def skip_reason(sessions: SessionFactory, *, mail: Mail, alert_id: int | None) -> str | None:
    """Why this e-mail must not go now (checked again at send time: it may have waited for a retry)."""
    async with sessions() as session:
        if await mail_queries.suppressed(session, hashes=[address_hash(mail.to)]):
            return "unsubscribed"
        if mail.purpose == "follow_up" and alert_id is not None:  # "did we fix it?" only while it is fixed
            return None if await followup_queries.still_resolved(session, alert_id=alert_id) else "reopened"
        if mail.purpose != "ack" or alert_id is None:
            return None
        facts = await mail_queries.contact_facts(session, alert_id=alert_id)
    if facts is None:
        return "the alert is gone"
    first_contact_at, acknowledged_at = facts
    if first_contact_at is not None:
        return "contacted"
    return "already acknowledged" if acknowledged_at is not None else None


async def record_skipped(
    sessions: SessionFactory, *, row_id: int, alert_id: int | None, reason: str, now: datetime
) -> None:
    async with transaction(sessions) as session:
        await mail_queries.finish_outbox_row(session, row_id=row_id, now=now, note=f"not sent: {reason}")
        if alert_id is not None and reason in ("unsubscribed", "contacted"):
            await mail_queries.set_ack_status(session, statuses={alert_id: "skipped"})
            event = skip_event(alert_id=alert_id, reason=reason, now=now)
            await queries.insert_many(session, model=AlertEvent, rows=[event])


def _acknowledged(mail: Mail, message_id: str, now: datetime) -> Change:
    shown = masked(mail.to)
    return Change(
        {"acknowledged_at": now, "ack_status": "sent"},
        "acknowledged",
        f"Acknowledged to {shown}",
        f"Acknowledged to {shown} · {now:%H:%M} UTC",
        event_data={"to": shown, "language": mail.language, "message_id": message_id},
    )


async def record_sent(
    sessions: SessionFactory, *, row_id: int, alert_id: int | None, mail: Mail, message_id: str, now: datetime
) -> None:
    """The row done and, for an acknowledgement, the alert acknowledged: one transaction, re-read and
    written again when a click changed the alert meanwhile."""
    for _ in range(WRITE_ATTEMPTS):
        async with transaction(sessions) as session:
            await mail_queries.finish_outbox_row(session, row_id=row_id, now=now)
            if mail.purpose == "follow_up" and alert_id is not None:  # bot/mail/followup.py
                await followup_queries.mark_sent(session, alert_id=alert_id, now=now)
            if mail.purpose != "ack" or alert_id is None:
                return
            alert = await queries.get_alert_by_id(session, alert_id=alert_id)
            if alert is None or alert.acknowledged_at is not None:
                return
            write = AlertWrite(alert, [_acknowledged(mail, message_id, now)], SYSTEM)
            if await write_changes(session, writes=[write], now=now):
                return


async def record_bounce(sessions: SessionFactory, *, address: str, now: datetime) -> None:
    """The server refused the recipient for good: no automatic e-mail goes there again."""
    async with transaction(sessions) as session:
        hashed = address_hash(address)
        await mail_queries.add_suppression(session, address_hash=hashed, reason="bounced", now=now)


async def unsubscribe(
    sessions: SessionFactory, kit: MailKit, *, token: str, now: datetime
) -> Unsubscribe | None:
    """One-click unsubscribe (RFC 8058): the token's address hash goes on the suppression list.
    None for a token this server did not sign; doing it twice is fine."""
    claim = kit.links.read_unsubscribe(token)
    if claim is None:
        return None
    async with transaction(sessions) as session:
        await mail_queries.add_suppression(session, address_hash=claim.address_hash, reason="unsubscribed",
                                           now=now)
    return claim
