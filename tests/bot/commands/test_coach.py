"""`/hotloop coach <name>` (bot/commands/coach.py): a frontline employee's alerts, outcomes, recovery,
score spread and promoters by ISO week, for managers and admins only, never with contact details, and
refused when HOTLOOP_EMPLOYEE_FIGURES=off. SQLite and, with HOTLOOP_TEST_DATABASE_URL, PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.alerts.lifecycle import Actor
from bot.breakdown import breakdown, week_label, week_start
from bot.breakdown_text import weekly_lines
from bot.commands.table import Caller
from bot.context import Context
from bot.domain import utcnow
from bot.settings import build_settings
from tests.appserver import TEST_SECRET_KEY
from tests.bot.commands.test_commands import USER, say
from tests.responses import add_response

MANAGER = Caller(Actor("U0MGR", "Mia Manager", "slack"), channel="C0STORE42")


async def seed(ctx: Context) -> None:
    """Jessica C (spelled three ways) this week and last week; someone else; a systemic summary that
    names her; a response 9 weeks ago; an alert in a team the manager does not manage."""
    assert (await say(ctx, "team add store-042")).ok
    assert (await say(ctx, "team managers store-042 add <@U0MGR>")).ok
    this_week = week_start(utcnow())
    last_week = this_week - timedelta(days=5)
    jess = {"employee": "Jessica C"}
    resolved = {"status": "resolved", "resolved_at": this_week + timedelta(minutes=30)}
    for nps, outcome in ((2, "recovered"), (3, "contacted_not_recovered"), (4, "unreachable")):
        await add_response(ctx.sessions, at=this_week, nps=nps, attributes=jess, team="store-042",
                           comment="rude at the till", alert={**resolved, "outcome": outcome})
    await add_response(ctx.sessions, at=this_week, nps=5, attributes={"employee": " jessica  c "},
                       team="store-042", alert={"status": "open"})
    await add_response(ctx.sessions, at=this_week, nps=10, attributes={"employee": "JESSICA C"},
                       comment="Jessica was wonderful,\nthank you!")
    await add_response(ctx.sessions, at=last_week, nps=9, attributes=jess, comment="Quick and kind")
    await add_response(ctx.sessions, at=last_week, nps=8, attributes=jess)
    await add_response(ctx.sessions, at=last_week, nps=1, attributes={"employee": "Someone Else"},
                       alert={"status": "open"}, team="store-042")
    await add_response(ctx.sessions, at=this_week, nps=None, attributes=jess, source="hotloop-systemic",
                       comment="5 detractors mention Jessica C", alert={"kind": "systemic", "key": "SYS-1"})
    await add_response(ctx.sessions, at=this_week - timedelta(weeks=9), nps=0, attributes=jess,
                       comment="old news")
    await add_response(ctx.sessions, at=this_week, nps=6, attributes=jess, team="elsewhere",
                       alert={"status": "resolved", "outcome": "recovered", "resolved_at": this_week})


async def test_admins_see_weeks_outcomes_spread_and_promoters(ctx: Context) -> None:
    await seed(ctx)
    reply = await say(ctx, "coach jessica c")
    assert reply.ok, reply.text
    assert reply.secret  # per-person figures: to the caller only, never posted in a Teams channel
    text = reply.text
    assert text.startswith("Coaching view for Jessica C, last 8 weeks")  # the most frequent spelling
    this_week = week_label(week_start(utcnow()))
    last_week = week_label(week_start(utcnow()) - timedelta(days=5))
    lines = {line.split()[0]: line for line in text.splitlines()[2:] if line.startswith("  ")}
    assert len([label for label in lines if "-W" in label]) == 8  # every one of the 8 weeks, empty ones too
    # this week: 6 responses (4 at store-042, 1 promoter without alert, 1 elsewhere), 5 alerts
    assert lines[this_week].split()[1:4] == ["6", "5", "67"]  # recovery: 2 recovered of 3 contacted
    assert "2/4.5/10" in lines[this_week]  # NPS min/median/max over ALL responses naming her
    assert "4/0/2" not in lines[this_week] and "5/0/1" in lines[this_week]  # detractors/passives/promoters
    assert "2 recovered" in lines[this_week] and "1 not recovered" in lines[this_week]
    assert "1 unreachable" in lines[this_week] and "1 open" in lines[this_week]
    assert lines[last_week].split()[1:3] == ["2", "0"] and "8/8.5/9" in lines[last_week]
    assert "0/1/1" in lines[last_week]
    assert lines["total"].split()[1:3] == ["8", "5"]
    assert "Promoters who named them: 2" in text
    assert "“Jessica was wonderful, thank you!”" in text and "“Quick and kind”" in text
    assert "old news" not in text and "5 detractors" not in text  # 9 weeks ago; the systemic summary
    for private in ("Dana Private", "dana.private@example.com", "555 0199"):
        assert private not in text


async def test_stats_by_employee_gives_the_same_weeks(ctx: Context) -> None:
    """`hotloop stats --by employee` over the same 8 weeks shows the coaching view's lines for her."""
    await seed(ctx)
    now = utcnow()
    coached = (await say(ctx, "coach Jessica C")).text.splitlines()[1:]
    stats = await breakdown(ctx.sessions, dimension="employee", since=week_start(now) - timedelta(weeks=7),
                            now=now)
    lines = weekly_lines(stats)
    block = lines[lines.index("Jessica C") + 1 :][: len(coached)]
    assert [line.removeprefix("  ") if "Promot" in line or "“" in line else line for line in block] == coached


async def test_a_manager_sees_their_teams_alerts_only_and_others_are_refused(ctx: Context) -> None:
    await seed(ctx)
    reply = await say(ctx, "coach Jessica C", MANAGER)
    assert reply.ok, reply.text
    total = next(line for line in reply.text.splitlines() if line.strip().startswith("total"))
    assert total.split()[1:3] == ["7", "4"]  # the alert in team "elsewhere" is not theirs
    refused = await say(ctx, "coach Jessica C", USER)
    assert not refused.ok and "managers and hotloop admins" in refused.text
    assert "Jessica" not in refused.text


async def test_unknown_names_and_bad_input(ctx: Context) -> None:
    await seed(ctx)
    reply = await say(ctx, "coach Nobody Here")
    assert reply.ok and "No response in the last 8 weeks names 'Nobody Here'" in reply.text
    empty = await say(ctx, "coach")
    assert not empty.ok and "Usage: coach <name>" in empty.text


async def test_employee_figures_off_refuses(engine: AsyncEngine, database_url: str) -> None:
    settings = build_settings(mode="test", database_url=database_url, secret_key=TEST_SECRET_KEY,
                              admins=["U0ADMIN"], log_json=False, employee_figures=False)
    ctx = await Context.open(settings)
    try:
        await seed(ctx)
        reply = await say(ctx, "coach Jessica C")
        assert not reply.ok
        assert reply.text == "per-person figures are turned off here (HOTLOOP_EMPLOYEE_FIGURES=off)"
    finally:
        await ctx.close()
