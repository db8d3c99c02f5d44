"""The figures as pictures: `GET /app/figures` (signed-in; filters `team`, `weeks`) shows the closed-loop
figures by ISO week as inline SVG charts, each with its data table; `GET /app/charts/week.png` serves a
team's weekly chart as a PNG to whoever holds a signed, unexpired link (Slack and Teams fetch the digest's
image without a session; bot/web/chart_links.py).

The figures read the days kept in `figureday` (bot/web/figures.py: a day is counted again only when its
alerts changed or a deadline passed; the warm-up job computes them ahead of the pages), so a page costs
a change check and the days changed since; the process keeps parsed days and merged weeks under those
days' change markers (no time to live: new data shows on the next page).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Collection
from typing import Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from adapters.web.session import require_user
from adapters.web.templating import render
from bot.context import Context
from bot.domain import utcnow
from bot.web.chart_links import chart_link_valid
from bot.web.charts import Chart, render_week_png
from bot.web.figure_charts import page_sections, tiles
from bot.web.figures import DEFAULT_WEEKS, MAX_WEEKS, FigureMemo, Figures, preload_memo, weekly_figures
from bot.web.users import WebUser, can_see_team

log = structlog.get_logger("hotloop.figures")

PNG_MAX = 64  # pictures kept, by the figures they show
PARAM_MAX = 12

router = APIRouter()


async def _after_preload(request: Request) -> None:
    """A page arriving while the start-up preload runs waits for it rather than parsing every kept day
    a second time beside it (shielded: a page cancelled by its client leaves the preload running)."""
    task: asyncio.Task[None] | None = getattr(request.app.state, "figure_preload", None)
    if task is not None and not task.done():
        await asyncio.shield(task)


def _memo(request: Request) -> FigureMemo:
    """This process's parsed days and merged weeks (bot/web/figures.py): keyed on the days' change
    markers, never on time, so new data shows on the next page."""
    memo: FigureMemo | None = getattr(request.app.state, "figure_memo", None)
    if memo is None:
        memo = request.app.state.figure_memo = FigureMemo()
    return memo


def _pictures(request: Request) -> dict[Any, bytes]:
    pictures: dict[Any, bytes] | None = getattr(request.app.state, "chart_pngs", None)
    if pictures is None or len(pictures) >= PNG_MAX:
        pictures = request.app.state.chart_pngs = {}
    return pictures


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def _int(value: str | None, *, low: int, high: int) -> int | None:
    """A small integer query parameter; None when absent; ValueError when malformed or out of range."""
    if value is None or value == "":
        return None
    if len(value) > PARAM_MAX or not value.isdigit() or not low <= int(value) <= high:
        raise ValueError(value)
    return int(value)


def _bad_request(request: Request, reason: str) -> HTMLResponse:
    return render(request, "message.html.j2", {"heading": "Bad request", "lines": [reason], "tone": "warn"},
                  status_code=400)


async def figures_for(request: Request, *, team_ids: Collection[int] | None, weeks: int) -> Figures:
    await _after_preload(request)
    ctx = _ctx(request)
    config = await ctx.config.get()
    names = {team_id: team.name for team_id, team in config.teams.items()}
    employees = bool(getattr(ctx.settings, "employee_figures", True))
    return await weekly_figures(ctx.sessions, now=utcnow(), team_names=names, team_ids=team_ids,
                                weeks=weeks, employee_figures=employees, memo=_memo(request))


def _svg(chart: Chart) -> Markup:
    """The chart's SVG as it is: bot/web/charts.py escapes every piece of text it puts in it."""
    return Markup(chart.svg)  # noqa: S704


@router.get("/app/figures", response_class=HTMLResponse)
async def figures_page(request: Request, user: WebUser = Depends(require_user)) -> HTMLResponse:
    config = await _ctx(request).config.get()
    visible = sorted((t for t in config.teams if can_see_team(user, t)), key=lambda t: config.teams[t].name)
    try:
        team = _int(request.query_params.get("team"), low=1, high=2**31 - 1)
        weeks = _int(request.query_params.get("weeks"), low=1, high=MAX_WEEKS) or DEFAULT_WEEKS
    except ValueError:
        return _bad_request(request, f"team must be a team id; weeks a number from 1 to {MAX_WEEKS}.")
    if team is not None and team not in visible:
        return _bad_request(request, "That team is not one of yours.")
    team_ids: list[int] | None = [team] if team is not None else (None if user.is_admin else visible)
    figures = await figures_for(request, team_ids=team_ids, weeks=weeks)
    focus = figures.teams[0] if team is not None and figures.teams else figures.overall
    sections = page_sections(figures, focus=focus)
    return render(request, "figures.html.j2", {
        "focus": focus, "tiles": tiles(focus), "sections": sections, "weeks": weeks,
        "week_choices": (4, 8, 12, 26, 52), "teams": [(t, config.teams[t].name) for t in visible],
        "team": team, "svg": _svg,
        "employee_figures": bool(figures.employees),
    })


@router.get("/app/charts/week.png")
async def week_png(request: Request) -> Response:
    """A team's weekly chart for a signed, unexpired link; 403 for anything else (no session needed)."""
    ctx = _ctx(request)
    params = request.query_params
    try:
        team = _int(params.get("team"), low=1, high=2**31 - 1)
        expires = _int(params.get("exp"), low=1, high=10**11)
    except ValueError:
        team = expires = None
    signature = params.get("sig", "")
    if team is None or expires is None or not chart_link_valid(
        ctx.settings, team_id=team, expires=expires, signature=signature, now=utcnow()
    ):
        return Response("This chart link is not valid or has expired.", status_code=403,
                        media_type="text/plain")
    config = await ctx.config.get()
    name = config.teams[team].name if team in config.teams else f"team {team}"

    await _after_preload(request)
    # the server's setting, though the picture shows no one: the kept days are kept for that setting
    figures = await weekly_figures(ctx.sessions, now=utcnow(), team_names={team: name}, team_ids=[team],
                                   employee_figures=bool(getattr(ctx.settings, "employee_figures", True)),
                                   memo=_memo(request))
    series = figures.teams[0] if figures.teams else figures.overall
    title = f"{name} · last {len(figures.week_labels)} weeks"
    pictures = _pictures(request)
    key = (title, series)  # the same figures draw the same picture: drawn again only when they change
    png = pictures.get(key)
    if png is None:
        png = pictures[key] = render_week_png(series, title=title)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=600"})


def start_preload(app: FastAPI) -> asyncio.Task[None]:
    """At the web process's start, in the background: the kept days parsed into this process's memo, so
    the first figures page after a restart is as fast as any (bot/web/figures.py `preload_memo`)."""
    task = app.state.figure_preload = asyncio.create_task(preload_figures(app), name="figures-preload")
    return task


async def preload_figures(app: FastAPI) -> None:
    ctx: Context = app.state.ctx
    memo = app.state.figure_memo = getattr(app.state, "figure_memo", None) or FigureMemo()
    try:
        days = await preload_memo(ctx.sessions, memo, now=utcnow(),
                                  employees=bool(getattr(ctx.settings, "employee_figures", True)))
    except Exception as error:  # e.g. the database is not reachable yet: the pages parse as they go
        log.warning("figures.preload_failed", error=type(error).__name__)
        return
    # the parsed days are many long-lived objects: collect now, at start, rather than in the full
    # collection the next page would pay for (bench/dashboard.py: without it the first page after a
    # restart had a p95 of 177–227 ms, with it 104–110 ms). Only when there was something to parse: a
    # full collection walks the whole heap, seconds in a big process, and blocks the event loop.
    if days:
        gc.collect()
    log.info("figures.preloaded", days=days)


def mount_figures(app: FastAPI) -> None:
    app.include_router(router)
