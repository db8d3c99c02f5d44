"""The dashboard's warm-up: `figure-days` computes the kept days of the figures (bot/web/figures.py) ahead
of the pages — every (day, team) of the longest window the page offers, a few seconds after start (the
first run after an upgrade counts every day once) and then every few minutes the days whose alerts
changed or whose next deadline passed. A page then computes only what changed since the last run."""

from __future__ import annotations

import structlog

from bot.context import Context
from bot.domain import utcnow
from bot.web.figures import MAX_WEEKS, refresh_window
from jobs.schedule import PeriodicJob

log = structlog.get_logger("hotloop.figures")

FIGURE_DAYS_SECONDS = 300.0
FIRST_RUN_AFTER = 5.0


async def warm_figure_days(ctx: Context) -> int:
    """One run: the days of the last MAX_WEEKS weeks brought up to date; how many were computed."""
    states = await refresh_window(ctx.sessions, now=utcnow(), weeks=MAX_WEEKS, team_ids=None,
                                  employees=bool(ctx.settings.employee_figures))
    computed = sum(1 for state in states if state.data is not None)
    if computed:
        log.info("figures.days_computed", days=computed, kept=len(states) - computed)
    return computed


def figure_jobs(ctx: Context) -> list[PeriodicJob]:
    async def tick() -> int:
        return await warm_figure_days(ctx)

    return [PeriodicJob("figure-days", FIGURE_DAYS_SECONDS, tick, first_run_after=FIRST_RUN_AFTER)]
