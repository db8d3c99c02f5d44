"""Keep the working tables small and customer details no longer than promised (the hourly `retention`
job): delivered outbox rows older than a week are deleted (the audit log keeps history), and so are
handled-delivery records (Slack event ids, signed-interaction and Teams activity keys) older than two
days — Slack refuses a signature older than 5 minutes and retries an event for about an hour, so a
replay or retry that old can no longer arrive. The systemic detector's per-alert signals go after 8
days, its day counts after 35. Responses older than HOTLOOP_CUSTOMER_RETENTION_DAYS lose their customer
details, keeping their figures (bot/privacy/retention.py)."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import utcnow
from bot.privacy.retention import redact_expired
from storage.db import SessionFactory
from storage.queries.retention import purge_old_rows

DELIVERY_RECORDS_KEPT = timedelta(days=2)
# The systemic detector reads an alert's signals only within its window (at most 7 days,
# bot/config/systemic.py) plus a day for a late batch; its 28-day baseline lives in the day counts.
SIGNALS_KEPT = timedelta(days=8)
SIGNAL_DAYS_KEPT = timedelta(days=35)  # the baseline's 28 days (bot/systemic/detect.py) and a margin


async def purge_finished_outbox(
    sessions: SessionFactory, *, older_than: timedelta = timedelta(days=7)
) -> int:
    """Returns the outbox rows deleted (the delivery records are purged in the same run)."""
    now = utcnow()
    return await purge_old_rows(
        sessions, outbox_before=now - older_than, deliveries_before=now - DELIVERY_RECORDS_KEPT,
        signals_before=now - SIGNALS_KEPT, signal_days_before=now - SIGNAL_DAYS_KEPT,
    )


async def run_retention(sessions: SessionFactory, *, customer_retention_days: int) -> int:
    """The whole hourly job: purge, then redact expired customer details; → responses redacted."""
    await purge_finished_outbox(sessions)
    return await redact_expired(sessions, retention_days=customer_retention_days, now=utcnow())
