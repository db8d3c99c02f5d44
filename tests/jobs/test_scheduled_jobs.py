"""The periodic jobs run for real on APScheduler's AsyncIOScheduler (issue 11 §2: "the outbox clean-up
never runs" — a lambda returning a coroutine ran in a thread pool and the coroutine was dropped)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.util import iscoroutinefunction_partial
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.context import Context
from bot.domain import utcnow
from jobs.retention import purge_finished_outbox
from jobs.runner import PeriodicJob, Workers, job_table
from storage.models import Outbox, WebhookDelivery
from tests.appserver import test_settings


def outbox_row(status: str, done_days_ago: float | None) -> Outbox:
    now = utcnow()
    done_at = None if done_days_ago is None else now - timedelta(days=done_days_ago)
    return Outbox(kind="dm", platform="log", destination="U1", alert_id=None, payload={}, status=status,
                  created_at=now - timedelta(days=30), next_attempt_at=now, done_at=done_at)


async def test_retention_deletes_finished_rows_on_the_real_scheduler(
    database_url: str, engine: AsyncEngine
) -> None:
    ctx = await Context.open(test_settings(database_url))
    rows = {
        "old done": outbox_row("done", 8),
        "old coalesced": outbox_row("coalesced", 9),
        "recent done": outbox_row("done", 1),
        "old failed": outbox_row("failed", 8),  # kept: admins still look at failures
        "pending": outbox_row("pending", None),
    }
    deliveries = {
        "old": WebhookDelivery(platform="slack", delivery_id="sig:old",
                               received_at=utcnow() - timedelta(days=3)),
        "fresh": WebhookDelivery(platform="slack", delivery_id="sig:fresh", received_at=utcnow()),
    }
    async with ctx.sessions() as session, session.begin():
        session.add_all([*rows.values(), *deliveries.values()])
    workers = Workers(ctx, {})
    try:
        workers.start()
        assert workers.scheduler.get_job("retention").func is not None
        workers.scheduler.modify_job("retention", next_run_time=datetime.now(UTC))  # due now, not in 30 s
        for _ in range(100):
            async with ctx.sessions() as session:
                left = {row.id for row in (await session.execute(select(Outbox))).scalars()}
            if rows["old done"].id not in left:
                break
            await asyncio.sleep(0.1)
        assert left == {rows[name].id for name in ("recent done", "old failed", "pending")}
        async with ctx.sessions() as session:
            kept = set((await session.execute(select(WebhookDelivery.delivery_id))).scalars())
        assert kept == {"sig:fresh"}  # a replay that old is refused by its signature anyway
    finally:
        await workers.stop()
        await ctx.close()


async def test_every_scheduled_job_is_a_coroutine_function_apscheduler_awaits(
    database_url: str, engine: AsyncEngine
) -> None:
    ctx = await Context.open(test_settings(database_url))
    workers = Workers(ctx, {})
    try:
        jobs = workers.scheduler.get_jobs()
        assert {job.id for job in jobs} == {job.id for job in job_table(ctx, {})} >= {
            "retention", "sla-sweep", "daily-digest"
        }
        assert all(iscoroutinefunction_partial(job.func) for job in jobs)
    finally:
        await workers.stop()
        await ctx.close()


def test_a_job_that_apscheduler_would_run_in_a_thread_is_refused() -> None:
    with pytest.raises(TypeError, match="coroutine function"):
        PeriodicJob("retention", 3600, lambda: purge_finished_outbox(None))

    def plain() -> int:
        return 0

    with pytest.raises(TypeError):
        PeriodicJob("plain", 1, plain)
