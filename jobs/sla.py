"""Scheduling glue for the SLA sweep and the daily digest (the logic lives in `bot/sla_sweep.py` and
`bot/digests.py`). `jobs.runner.job_table` lists `sla_jobs`:

- `sla-sweep` every `settings.sla_sweep_seconds` (5 s): drains the due alerts, a bounded number of
  batches per tick, and wakes the delivery worker when it wrote chat work;
- `daily-digest` hourly, first 10 s after start: each team's digest once per local day at
  `settings.digest_hour` (`bot.digests`).

`delivery_handlers(ctx, chats)` gives the outbox kinds this module adds (`digest.post`), which
`jobs.runner.Workers` gives the delivery worker.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from bot.cards.model import digest_at_level
from bot.chat.port import Chat
from bot.context import Context
from bot.digests import DIGEST_KIND, digest_from_payload, enqueue_due_digests
from bot.domain import utcnow
from bot.sla_sweep import SweepOptions, SweepResult, drain
from jobs.delivery_ops import Job, JobHandler, Verdict
from jobs.schedule import PeriodicJob

log = structlog.get_logger("hotloop.sla")

DIGEST_CHECK_SECONDS = 3600.0
DIGEST_FIRST_CHECK_SECONDS = 10.0  # soon after start, so frequent restarts never skip a day's digest
MAX_BATCHES_PER_TICK = 40  # 20 000 alerts at the default batch; the rest wait for the next tick


def sla_jobs(ctx: Context, chats: Mapping[str, Chat]) -> list[PeriodicJob]:
    settings = ctx.settings
    options = SweepOptions.from_settings(settings)
    batch, hour = settings.sla_sweep_batch, settings.digest_hour

    async def run_sweep() -> SweepResult:
        config = await ctx.config.get()
        result = await drain(
            ctx.sessions,
            config=config,
            now=utcnow(),
            batch=batch,
            options=options,
            max_batches=MAX_BATCHES_PER_TICK,
        )
        if result.steps:
            ctx.signal.notify()
            log.info(
                "sla.swept",
                taken=result.taken,
                heads_up=result.heads_up,
                breached=result.breached,
                nagged=result.nagged,
                escalated=result.escalated,
                woke=result.woke,
            )
        if result.failed:
            log.warning("sla.sweep_incomplete", failed=result.failed)
        return result

    async def run_digests() -> int:
        teams = await enqueue_due_digests(ctx.sessions, now=utcnow(), hour=hour, settings=settings)
        if teams:
            ctx.signal.notify()
            log.info("digest.enqueued", teams=teams)
        return teams

    return [
        PeriodicJob("sla-sweep", float(settings.sla_sweep_seconds), run_sweep),
        PeriodicJob(
            "daily-digest", DIGEST_CHECK_SECONDS, run_digests, first_run_after=DIGEST_FIRST_CHECK_SECONDS
        ),
    ]


def delivery_handlers(ctx: Context, chats: Mapping[str, Chat]) -> dict[str, JobHandler]:
    """Outbox kinds added by this module, for `DeliveryWorker(handlers=…)`."""

    async def post_digest(job: Job) -> Verdict:
        chat = chats.get(job.platform)
        if chat is None:
            return Verdict("failed", f"{job.platform} is not configured on this server")
        # at the row's rendering level: smaller after the platform refused it for its size
        digest = digest_at_level(digest_from_payload(job.payload), job.level)
        await chat.post_digest(channel=job.destination, digest=digest)
        return Verdict("done")

    return {DIGEST_KIND: post_digest}
