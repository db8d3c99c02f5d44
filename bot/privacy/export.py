"""`hotloop privacy export --email X`: everything hotloop holds about one customer, as JSON-ready data.
Reading it is audited like erasing: a `customer_exported` event on each of their alerts and a log line,
without the address."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from bot.alerts.lifecycle import Actor
from bot.mail.address import address_hash, lane_of
from bot.privacy.erase import MESSAGE_KINDS, Found, audit_event, find_customer, subject_address
from storage import queries
from storage.db import SessionFactory, transaction
from storage.models import AlertEvent, Feedback, Outbox
from storage.queries import privacy as privacy_queries

log = structlog.get_logger("hotloop.privacy")
EXPORTED_EVENT = "customer_exported"
MESSAGE_FIELDS = ("purpose", "to", "subject", "text", "language")


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _response(response: Feedback, sources: dict[int, str]) -> dict[str, Any]:
    return {
        "source": sources.get(response.source_id), "external_id": response.external_id,
        "received_at": _when(response.received_at), "submitted_at": _when(response.submitted_at),
        "customer_id": response.customer_id, "name": response.customer_name, "email": response.customer_email,
        "phone": response.customer_phone, "nps": response.nps,
        "contact_requested": response.contact_requested,
        "comment": response.comment, "answers": response.answers, "attributes": response.attributes,
    }


def _alerts(found: Found) -> list[dict[str, Any]]:
    by_alert: dict[int, list[dict[str, Any]]] = {}
    for event in found.events:
        by_alert.setdefault(event.alert_id, []).append(
            {"kind": event.kind, "at": _when(event.at), "by": event.actor_name, "data": event.data})
    answers: dict[int, list[dict[str, Any]]] = {}
    for asked in found.follow_ups:
        answers.setdefault(asked.alert_id, []).append(
            {"sent_at": _when(asked.sent_at), "answered_at": _when(asked.answered_at),
             "resolved": asked.resolved, "score": asked.score, "comment": asked.comment})
    return [{"key": a.key, "status": a.status, "severity": a.severity, "created_at": _when(a.created_at),
             "resolved_at": _when(a.resolved_at), "outcome": a.outcome, "resolution_note": a.resolution_note,
             "events": by_alert.get(a.id or 0, []), "follow_ups": answers.get(a.id or 0, [])}
            for a in found.alerts]


def _message(row: Outbox) -> dict[str, Any]:
    payload = row.payload or {}
    shown = {k: payload[k] for k in MESSAGE_FIELDS if k in payload}
    return {"kind": row.kind, "status": row.status, "created_at": _when(row.created_at), **shown}


async def export_customer(
    sessions: SessionFactory, *, email: str, actor: Actor, now: datetime
) -> dict[str, Any]:
    """What is held about the customer with this address (PrivacyError: not an address)."""
    address = subject_address(email)
    hashed = address_hash(address)
    async with transaction(sessions) as session:
        found = await find_customer(session, address=address)
        sources = await privacy_queries.source_names(session, ids={r.source_id for r in found.responses})
        alert_ids = [a.id for a in found.alerts if a.id is not None]
        rows = await privacy_queries.messages_for(session, alert_ids=alert_ids, kinds=MESSAGE_KINDS,
                                                  lane=lane_of(hashed))
        suppressed = await privacy_queries.is_suppressed(session, address_hash=hashed)
        held = {
            "email": address,
            "responses": [_response(r, sources) for r in found.responses],
            "alerts": _alerts(found),
            "messages": [_message(row) for row in rows],
            "suppressed": suppressed,
        }
        counts = {"responses": len(found.responses)}
        audit = [audit_event(alert_id, EXPORTED_EVENT, actor, now, counts) for alert_id in alert_ids]
        await queries.insert_many(session, model=AlertEvent, rows=audit)
    log.info("privacy.exported", actor=actor.id, platform=actor.platform, responses=len(found.responses),
             alerts=len(alert_ids))
    return held
