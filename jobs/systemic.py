"""Scheduling glue for the systemic detector (the logic lives in `bot/systemic/detector.py`):
`systemic` every 2 s reads the alerts ingested since its cursor, links them to spikes' parent cases,
and wakes the delivery worker when it wrote cards (a new SYS card, an updated one, "part of SYS-n")."""

from __future__ import annotations

import structlog

from bot.context import Context
from bot.domain import utcnow
from bot.systemic.detector import DetectResult, run_detector
from jobs.schedule import PeriodicJob

log = structlog.get_logger("hotloop.systemic")

SYSTEMIC_SECONDS = 2.0


async def run_systemic(ctx: Context) -> DetectResult:
    """One tick: every new alert read (in batches), the outbox woken after the commit."""
    result = await run_detector(ctx.sessions, config=await ctx.config.get(),
                                alarming_words=ctx.settings.alarming_words, now=utcnow(),
                                employee_figures=ctx.settings.employee_figures)
    if result.wrote_chat:
        ctx.signal.notify()
    if result.created:
        log.info("systemic.opened", parents=result.created, alerts=result.alerts)
    return result


def systemic_jobs(ctx: Context) -> list[PeriodicJob]:
    async def tick() -> DetectResult:
        return await run_systemic(ctx)

    return [PeriodicJob("systemic", SYSTEMIC_SECONDS, tick)]
