"""Erasing one customer (`hotloop privacy erase --email X`, `/hotloop erase X`): one transaction that
rewrites every stored trace of them and enqueues a `card.update` for each of their alerts, so every card
already posted in Slack and Teams re-renders through the outbox and shows "[erased]".

What changes: their responses (bot/privacy/redact.py: the figures stay), their alerts' event data and
resolution notes (their details scrubbed), their e-mails in the outbox (deleted, sent or not), the thread
lines and DMs of their alerts (delivered ones deleted, pending ones scrubbed). Their address goes on the
suppression list — as a hash only — so no automatic e-mail reaches them again. The audit trail is a
`customer_erased` event on each alert and a log line, both without any personal data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.lifecycle import Actor
from bot.mail.address import address_hash, lane_of, normalized
from bot.mail.message import EMAIL_KIND
from bot.outbox import card_update_rows
from bot.privacy.redact import (
    ERASED,
    MIN_PHRASE,
    phrase_pattern,
    phrases_of,
    redacted_data,
    redacted_response,
    scrubbed,
)
from storage import queries
from storage.db import SessionFactory, transaction
from storage.models import Alert, AlertEvent, Feedback, FollowUp, Outbox
from storage.queries import mail as mail_queries
from storage.queries import privacy as privacy_queries

log = structlog.get_logger("hotloop.privacy")
ERASED_EVENT = "customer_erased"
MESSAGE_KINDS = (EMAIL_KIND, "thread.reply", "dm")  # outbox rows whose payload may quote the customer
MAX_ADDRESS = 320
_SLACK_MAILTO = re.compile(r"<mailto:([^|>]+)(?:\|[^>]*)?>")  # how Slack may hand over a typed address


class PrivacyError(ValueError):
    """The request names no e-mail address."""


def subject_address(raw: str) -> str:
    """The normalized address an erase or export is about (bot/mail/address.py `normalized`)."""
    text = _SLACK_MAILTO.sub(r"\1", raw.strip())
    if not text or len(text) > MAX_ADDRESS or "@" not in text or any(c.isspace() for c in text):
        raise PrivacyError("give one e-mail address, e.g. dana@example.com")
    return normalized(text)


@dataclass(frozen=True)
class Found:
    """One customer's rows, read in the transaction that changes or exports them."""

    address: str
    responses: list[Feedback]
    alerts: list[Alert]
    events: list[AlertEvent]
    follow_ups: list[FollowUp]


async def find_customer(session: AsyncSession, *, address: str) -> Found:
    candidates = await privacy_queries.responses_mentioning(session, address=address)
    responses = [r for r in candidates if _mentions(r, address)]
    alerts = list(await privacy_queries.alerts_of(session, feedback_ids=[r.id for r in responses if r.id]))
    alert_ids = [a.id for a in alerts if a.id is not None]
    events = list(await privacy_queries.events_of(session, alert_ids=alert_ids))
    follow_ups = list(await privacy_queries.follow_ups_of(session, alert_ids=alert_ids))
    return Found(address, responses, alerts, events, follow_ups)


def _mentions(response: Feedback, address: str) -> bool:
    email = response.customer_email
    if email is not None and normalized(email) == address:
        return True
    return address in (response.comment or "").casefold()


@dataclass(frozen=True)
class Erasure:
    """What an erasure changed (counts and alert keys only: this is what gets printed and logged)."""

    responses: int
    alerts: tuple[str, ...]
    events: int
    messages_removed: int
    cards_updated: int


def _pattern(found: Found) -> re.Pattern[str] | None:
    phrases = {found.address}
    for response in found.responses:
        phrases |= phrases_of(response)
    # the customer's answers to a follow-up are their words too (thread lines quote them)
    comments = [event.data.get("comment") for event in found.events] + [f.comment for f in found.follow_ups]
    phrases |= {c.strip() for c in comments if isinstance(c, str) and len(c.strip()) >= MIN_PHRASE}
    return phrase_pattern(phrases)


def _rewrite_rows(found: Found, pattern: re.Pattern[str] | None) -> int:
    """Rewrite the loaded rows in place (the session flushes them); → events changed."""
    for response in found.responses:
        for column, value in redacted_response(response, pattern, ERASED).items():
            setattr(response, column, value)
    for alert in found.alerts:
        if alert.resolution_note:
            alert.resolution_note = scrubbed(alert.resolution_note, pattern, ERASED)
    changed = 0
    for event in found.events:
        data = redacted_data(dict(event.data), pattern, ERASED)
        if data != event.data:
            event.data = data
            changed += 1
    return changed


async def _rewrite_messages(session: AsyncSession, found: Found, pattern: re.Pattern[str] | None) -> int:
    """Delete the customer's e-mails and delivered thread lines/DMs; scrub the pending ones. → deleted."""
    alert_ids = [a.id for a in found.alerts if a.id is not None]
    rows = await privacy_queries.messages_for(session, alert_ids=alert_ids, kinds=MESSAGE_KINDS,
                                              lane=lane_of(address_hash(found.address)))
    removed = [row.id for row in rows
               if row.id is not None and (row.kind == EMAIL_KIND or row.status != "pending")]
    await privacy_queries.delete_outbox(session, ids=removed)
    for row in rows:
        if row.id is not None and row.id not in removed:
            payload: dict[str, Any] = redacted_data(dict(row.payload), pattern, ERASED)
            if payload != row.payload:
                await privacy_queries.set_outbox_payload(session, row_id=row.id, payload=payload)
    return len(removed)


def audit_event(alert_id: int, kind: str, actor: Actor, now: datetime, data: dict[str, Any]
                ) -> dict[str, Any]:
    """An `AlertEvent` row recording a privacy action: who, when, counts — never the customer's details."""
    return {"alert_id": alert_id, "kind": kind, "actor_id": actor.id, "actor_name": actor.name,
            "platform": actor.platform, "at": now, "data": data}


def _audit_rows(found: Found, actor: Actor, now: datetime) -> list[dict[str, Any]]:
    data = {"responses": len(found.responses)}
    return [audit_event(a.id, ERASED_EVENT, actor, now, data) for a in found.alerts if a.id is not None]


async def erase_customer(sessions: SessionFactory, *, email: str, actor: Actor, now: datetime) -> Erasure:
    """Erase every stored trace of the customer with this address (PrivacyError: not an address)."""
    address = subject_address(email)
    async with transaction(sessions) as session:
        found = await find_customer(session, address=address)
        pattern = _pattern(found)
        events = _rewrite_rows(found, pattern)
        await session.flush()
        removed = await _rewrite_messages(session, found, pattern)
        hashed = address_hash(address)
        await mail_queries.add_suppression(session, address_hash=hashed, reason="erased", now=now)
        alert_ids = [a.id for a in found.alerts if a.id is not None]
        await privacy_queries.replace_follow_up_words(session, alert_ids=alert_ids, marker=ERASED)
        updates = await card_update_rows(session, alert_ids=alert_ids, now=now)
        await queries.insert_many(session, model=Outbox, rows=updates)
        await queries.insert_many(session, model=AlertEvent, rows=_audit_rows(found, actor, now))
    erasure = Erasure(len(found.responses), tuple(a.key or "?" for a in found.alerts), events, removed,
                      len(alert_ids))
    log.info("privacy.erased", actor=actor.id, platform=actor.platform, responses=erasure.responses,
             alerts=len(erasure.alerts), events=events, messages_removed=removed)
    return erasure


def erasure_text(erasure: Erasure) -> str:
    if not erasure.responses:
        return "No stored response has that address; it is on the suppression list now (as a hash)."
    keys = ", ".join(erasure.alerts) or "none"
    return (f"Erased {erasure.responses} response(s); alerts {keys}: {erasure.events} event(s) scrubbed, "
            f"{erasure.messages_removed} message(s) deleted, {erasure.cards_updated} card(s) being updated. "
            "The address is on the suppression list (as a hash).")
