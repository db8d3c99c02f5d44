"""Redacting customer details once HOTLOOP_CUSTOMER_RETENTION_DAYS have passed since a response came in
(run by the hourly retention job, jobs/retention.py). The figures stay: scores, numeric answers, times,
outcomes and counts are untouched (bot/privacy/redact.py). Each redacted alert gets a
`customer_redacted` event; cards posted a year ago are not re-rendered (chat retention is the
workspace's own policy)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.lifecycle import SYSTEM
from bot.privacy.erase import audit_event
from bot.privacy.redact import (
    MARKERS,
    REDACTED,
    phrase_pattern,
    phrases_of,
    redacted_data,
    redacted_response,
    scrubbed,
)
from storage import queries
from storage.db import SessionFactory, transaction
from storage.models import AlertEvent, Feedback
from storage.queries import privacy as privacy_queries

log = structlog.get_logger("hotloop.privacy")
REDACTED_EVENT = "customer_redacted"


async def _redact_batch(session: AsyncSession, responses: Sequence[Feedback], now: datetime) -> None:
    alerts = await privacy_queries.alerts_of(session, feedback_ids=[r.id for r in responses if r.id])
    events = await privacy_queries.events_of(session, alert_ids=[a.id for a in alerts if a.id])
    alert_of = {a.feedback_id: a for a in alerts}
    events_of: dict[int, list[AlertEvent]] = {}
    for event in events:
        events_of.setdefault(event.alert_id, []).append(event)
    audit: list[dict[str, Any]] = []
    for response in responses:
        pattern = phrase_pattern(phrases_of(response))
        for column, value in redacted_response(response, pattern, REDACTED).items():
            setattr(response, column, value)
        alert = alert_of.get(response.id or 0)
        if alert is None or alert.id is None:
            continue
        if alert.resolution_note:
            alert.resolution_note = scrubbed(alert.resolution_note, pattern, REDACTED)
        for event in events_of.get(alert.id, []):
            data = redacted_data(dict(event.data), pattern, REDACTED)
            if data != event.data:
                event.data = data
        audit.append(audit_event(alert.id, REDACTED_EVENT, SYSTEM, now, {"reason": "retention"}))
    await session.flush()
    await privacy_queries.replace_follow_up_words(session, alert_ids=[a.id for a in alerts if a.id],
                                                  marker=REDACTED)
    await queries.insert_many(session, model=AlertEvent, rows=audit)


async def redact_expired(
    sessions: SessionFactory, *, retention_days: int, now: datetime, batch: int = 500, max_batches: int = 20
) -> int:
    """Redact the responses older than the retention period, a batch per transaction (the rest waits for
    the next run); → how many. `retention_days` 0 keeps everything."""
    if retention_days <= 0:
        return 0
    before = now - timedelta(days=retention_days)
    total = 0
    for _ in range(max_batches):
        async with transaction(sessions) as session:
            responses = await privacy_queries.responses_to_redact(session, before=before, markers=MARKERS,
                                                                  limit=batch)
            await _redact_batch(session, responses, now)
        total += len(responses)
        if len(responses) < batch:
            break
    if total:
        log.info("privacy.retention_redacted", responses=total, retention_days=retention_days)
    return total
