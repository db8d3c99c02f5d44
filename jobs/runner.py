"""The background work of a `worker`/`all` process.

- Outbox delivery runs as its own loop, woken by the outbox signal right after each commit (an
  interval job could not be woken early without skipping runs).
- Everything periodic is one static APScheduler job table: explicit ids, `coalesce=True`,
  `max_instances=1`, in-memory job store. Per-alert timers are columns the jobs poll, never pickled
  jobs, so a restart loses nothing.
- Every job is a coroutine function (an `async def`, or a `functools.partial` of one): see
  `jobs/schedule.py` `PeriodicJob`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import partial

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.chat.port import Chat
from bot.context import Context
from bot.mail.port import Mailer
from jobs.delivery import DeliveryWorker
from jobs.fetch import FETCH_KIND, Fetcher
from jobs.figures import figure_jobs
from jobs.mail import mail_handlers, mail_jobs
from jobs.retention import run_retention
from jobs.schedule import PeriodicJob
from jobs.sla import delivery_handlers, sla_jobs
from jobs.systemic import systemic_jobs

__all__ = ["PeriodicJob", "Workers", "job_table"]  # PeriodicJob: where the job table's users look for it

log = structlog.get_logger("hotloop.jobs")


def job_table(ctx: Context, chats: Mapping[str, Chat]) -> list[PeriodicJob]:
    """THE list of periodic jobs. Add one here; nothing else schedules work."""
    purge = partial(run_retention, ctx.sessions,
                    customer_retention_days=ctx.settings.customer_retention_days)
    retention = PeriodicJob("retention", 3600, purge, first_run_after=30)
    # sla-sweep (every few seconds), daily-digest; mail-ack when e-mail is configured
    return [retention, *sla_jobs(ctx, chats), *mail_jobs(ctx), *systemic_jobs(ctx), *figure_jobs(ctx)]


class Workers:
    def __init__(self, ctx: Context, chats: Mapping[str, Chat], *, mailer: Mailer | None = None) -> None:
        self.ctx = ctx
        self.fetcher = Fetcher(ctx)
        self.delivery = DeliveryWorker(
            ctx.sessions,
            chats,
            signal=ctx.signal,
            batch=ctx.settings.delivery_batch,
            max_attempts=ctx.settings.delivery_max_attempts,
            poll_seconds=ctx.settings.delivery_poll_seconds,
            handlers={
                FETCH_KIND: self.fetcher, **delivery_handlers(ctx, chats), **mail_handlers(ctx, mailer)
            },
        )
        self.scheduler = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
        )
        started = datetime.now(UTC)
        for job in job_table(ctx, chats):
            first = job.seconds if job.first_run_after is None else job.first_run_after
            self.scheduler.add_job(job.run, "interval", seconds=job.seconds, id=job.id, replace_existing=True,
                                   next_run_time=started + timedelta(seconds=first))
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.delivery.run(self._stop), name="hotloop-delivery")
        self.scheduler.start()

    async def stop(self) -> None:
        self._stop.set()
        self.ctx.signal.notify()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except TimeoutError:
                self._task.cancel()
        await self.fetcher.aclose()
