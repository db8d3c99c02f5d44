"""`/hotloop coach <name>`: the frontline employee's view, for coaching (issue 15).

For the person a response names (its `employee` attribute, case and spaces ignored), by ISO week over
the last 8 weeks: responses, alerts and their outcomes, the recovery rate, the score spread of ALL
responses naming them (not only those that alerted) and the promoters who named them, with a few of their
comments. Contact details are never shown. Only managers (of any team) and admins may ask; a manager
sees the alerts of the teams they manage (and the responses that raised no alert). With
HOTLOOP_EMPLOYEE_FIGURES=off the command refuses. The figures and the table are `hotloop stats --by
employee`'s (bot/breakdown.py, bot/breakdown_text.py).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from bot.breakdown import EMPLOYEE, Figures, FiguresOff, by_week, fold, week_start
from bot.breakdown_text import promoter_lines, week_table_lines
from bot.commands.base import Caller, CommandError, CommandReply, UsageError, split_words
from bot.context import Context
from bot.domain import utcnow
from bot.identity import qualify
from storage.queries.breakdown import ResponseRow, attribute_values_since, responses_by_id

WEEKS = 8


def report(name: str, rows: list[ResponseRow], *, now: datetime) -> str:
    first = week_start(now) - timedelta(weeks=WEEKS - 1)
    total = Figures()
    for row in rows:
        total.add(row, now)
    lines = [
        f"Coaching view for {name}, last {WEEKS} weeks (responses naming them):",
        *week_table_lines(by_week(rows, first=first, now=now), total),
        *promoter_lines(rows),
    ]
    return "\n".join(lines)


async def _managed_teams(ctx: Context, caller: Caller) -> frozenset[int] | None:
    """None: an admin (every team); else the ids of the teams the caller manages (refused if none)."""
    config = await ctx.config.get()
    who = qualify(caller.actor.platform, caller.actor.id)
    if who in config.admins:
        return None
    managed = frozenset(team.id for team in config.teams.values() if who in team.managers)
    if not managed:
        raise CommandError("Only a team's managers and hotloop admins can use 'coach'.")
    return managed


def _visible(row: ResponseRow, managed: frozenset[int] | None) -> bool:
    return managed is None or row.alert is None or row.alert.team_id in managed


async def coach(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    name = " ".join(split_words(args))
    if not name or len(name) > 255:
        raise UsageError("expected the employee's name as the responses give it, e.g. coach Jessica C")
    if not ctx.settings.employee_figures:
        raise CommandError(FiguresOff.MESSAGE)
    managed = await _managed_teams(ctx, caller)
    now = utcnow()
    since = week_start(now) - timedelta(weeks=WEEKS - 1)
    async with ctx.sessions() as session:
        named = await attribute_values_since(session, since=since, name=EMPLOYEE)
        ids = [feedback_id for feedback_id, value in named if fold(value) == fold(name)]
        rows = [r for r in await responses_by_id(session, feedback_ids=ids) if _visible(r, managed)]
    if not rows:
        return CommandReply(f"No response in the last {WEEKS} weeks names {name!r} as the employee.")
    spelled = Counter(" ".join(r.attributes[EMPLOYEE].split()) for r in rows).most_common(1)[0][0]
    # per-person figures go to the caller only (Slack: ephemeral; Teams channel: 1:1), never to a channel
    return CommandReply(report(spelled, rows, now=now), secret=True)
