"""`hotloop stats --by location|region|product|source|topic|employee [--since 28d] [--team X]
[--weekly/--no-weekly] [--json]`: the closed-loop figures per value of one dimension and per ISO week
(bot/breakdown.py), as text (bot/breakdown_text.py) or one JSON document that always carries the
weeks (README "Frontline employees and coaching")."""

from __future__ import annotations

import json
from datetime import timedelta

import typer

from bot.durations import DurationError, parse_duration
from hotloop.cli_common import fail, load_settings, with_context

MAX_SINCE = 366 * 86400


def _since_seconds(text: str) -> int:
    try:
        seconds = parse_duration(text)
    except DurationError as exc:
        raise fail(f"--since: {exc}", code=2) from exc
    if not 0 < seconds <= MAX_SINCE:
        raise fail(f"--since must be more than 0s and at most 366d, got {text!r}", code=2)
    return seconds


def stats_by(
    *, by: str, since: str, team: str | None, as_json: bool, top: int, weekly: bool | None = None
) -> None:
    """`weekly` None: by week for employee (the coaching view's table), one line per value otherwise."""
    from bot.breakdown import DIMENSIONS, EMPLOYEE, Breakdown, FiguresOff, breakdown
    from bot.breakdown_text import table_lines, weekly_lines
    from bot.context import Context
    from bot.domain import utcnow
    from storage import queries

    dimension = by.strip().lower()
    if dimension not in DIMENSIONS:
        raise fail(f"--by must be one of {', '.join(DIMENSIONS)}, got {by!r}", code=2)
    seconds = _since_seconds(since)
    if top < 0:
        raise fail("--top must be 0 (all) or more", code=2)
    settings = load_settings()
    if dimension == EMPLOYEE and not settings.employee_figures:
        raise fail(FiguresOff.MESSAGE, code=2)  # a setting of this installation, not a bad request
    now = utcnow()

    async def work(ctx: Context) -> Breakdown | None:
        if team is not None:
            async with ctx.sessions() as session:
                if await queries.get_team_by_name(session, name=team) is None:
                    return None
        return await breakdown(
            ctx.sessions, dimension=dimension, since=now - timedelta(seconds=seconds), now=now, team=team,
            alarming_words=settings.alarming_words, employee_figures=settings.employee_figures, top=top,
        )

    result = with_context(settings, work)
    if result is None:
        raise fail(f"no team named {team!r}")
    if as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        return
    by_week = dimension == EMPLOYEE if weekly is None else weekly
    scope = f", team {team}" if team else ""
    per = ", by ISO week" if by_week else ""
    typer.echo(f"Figures by {dimension}{per}, responses since {result.since:%Y-%m-%d %H:%M} UTC{scope}:")
    for line in weekly_lines(result) if by_week else table_lines(result):
        typer.echo(line)
