"""The dashboard's warm-up job (jobs/figures.py), on SQLite and PostgreSQL: it computes and keeps every day
with alerts, so the figures a page asks for afterwards compute no day (no `figureday` row written); a
changed alert makes the page compute that one day again — and the figures a process keeps between pages
(`FigureMemo`) show the change on the very next page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from bot.context import Context
from bot.domain import utcnow
from bot.web.figures import FigureMemo, Figures, preload_memo, weekly_figures
from jobs.figures import warm_figure_days
from jobs.runner import job_table
from storage.models import Alert, FigureDay
from tests.appserver import test_settings
from tests.bot.web.test_charts import History

Kept = dict[tuple[str, int], datetime]  # (day, team) → when its figures were computed and kept


@pytest.fixture
async def ctx(database_url: str, engine: AsyncEngine) -> AsyncIterator[Context]:
    opened = await Context.open(test_settings(database_url))
    yield opened
    await opened.close()


async def _kept(ctx: Context) -> Kept:
    async with ctx.sessions() as session:
        rows = (await session.execute(select(col(FigureDay.day), col(FigureDay.team_id),
                                             col(FigureDay.computed_at)))).tuples()
        return {(day, team): computed for day, team, computed in rows}


async def _page(ctx: Context, names: dict[int, str], memo: FigureMemo, **filters: object) -> Figures:
    return await weekly_figures(ctx.sessions, now=utcnow(), team_names=names, memo=memo,
                                **filters)  # type: ignore[arg-type]


async def test_after_the_warm_up_a_page_computes_no_day_and_a_change_only_its_own(ctx: Context) -> None:
    now = utcnow()
    made = History(ctx.sessions)
    north, south = await made.setup()
    names = {north: "north", south: "south"}
    await made.alert(north, now - timedelta(days=3), location="L1", contact=60, claim=300)
    unclaimed = await made.alert(north, now - timedelta(days=3, minutes=5), location="L1")
    await made.alert(south, now - timedelta(days=10), location="L2", contact=600, claim=700, resolve=900)
    await made.alert(north, now - timedelta(weeks=30), location="L3", contact=30)  # the 52-week view's
    assert "figure-days" in {job.id for job in job_table(ctx, {})}

    assert await warm_figure_days(ctx) == 3  # three (day, team)s with alerts, each computed once
    kept = await _kept(ctx)
    assert len(kept) == 3
    assert await warm_figure_days(ctx) == 0  # nothing changed since

    memo = FigureMemo()
    first = await _page(ctx, names, memo)
    assert sum(week.alerts for week in first.overall.weeks) == 3 and first.locations[0].name == "L1"
    await _page(ctx, names, memo, weeks=52)
    await _page(ctx, names, FigureMemo(), team_ids=[south])
    assert await _kept(ctx) == kept  # the pages computed (and wrote) no day

    async with ctx.sessions.begin() as session:  # the unclaimed alert is claimed: a write bumps its version
        await session.execute(update(Alert).where(col(Alert.id) == unclaimed).values(
            claimed_at=now, version=col(Alert.version) + 1))
    after = await _page(ctx, names, memo)
    changed = {key for key, computed in (await _kept(ctx)).items() if kept.get(key) != computed}
    assert changed == {((now - timedelta(days=3, minutes=5)).date().isoformat(), north)}
    north_series = next(series for series in after.teams if series.name == "north")
    assert sum(week.responded for week in north_series.weeks) == 2  # shown at once, though memoised
    assert sum(week.responded for week in first.teams[0].weeks) == 1
    assert await warm_figure_days(ctx) == 0  # the page kept what it computed


async def test_a_restarted_process_preloads_the_kept_days_and_its_first_page_reads_none(ctx: Context) -> None:
    """bot/web/figures.py `preload_memo` (run by the web process at start): every kept day parsed ahead,
    read-only; the first page then reads no day's figures from `figureday`, and what is not kept yet
    is left to the page (computed there, as before)."""
    now = utcnow()
    made = History(ctx.sessions)
    north, south = await made.setup()
    names = {north: "north", south: "south"}
    await made.alert(north, now - timedelta(days=2), location="L1", contact=60)
    await made.alert(south, now - timedelta(weeks=20), location="L2", claim=700)
    await warm_figure_days(ctx)
    kept = await _kept(ctx)
    late = await made.alert(south, now - timedelta(days=1), location="L2")  # not kept yet

    memo = FigureMemo()
    assert await preload_memo(ctx.sessions, memo, now=now, employees=True) == 2
    assert set(memo.days) == set(kept)
    assert await _kept(ctx) == kept  # read-only: the day of the late alert was not computed

    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(ctx.engine.sync_engine, "before_cursor_execute", seen)
    try:
        figures = await _page(ctx, names, memo, weeks=52)
    finally:
        event.remove(ctx.engine.sync_engine, "before_cursor_execute", seen)
    assert sum(week.alerts for week in figures.overall.weeks) == 3 and late
    reads = [s for s in statements if "figureday.data" in s.replace('"', "")]
    assert reads == [], reads  # nothing parsed again: only the late day was computed
    assert len(await _kept(ctx)) == 3
