"""The admin command grammar (bot/commands/table.py): every command's happy path, help, errors, fuzzing.

Runs on SQLite and, with HOTLOOP_TEST_DATABASE_URL, on PostgreSQL (the `engine` fixture).
Permissions and "bad input changes nothing" live in tests/bot/commands/test_admin.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlmodel import SQLModel, col

from bot.alerts.lifecycle import Actor
from bot.commands.table import COMMANDS, Caller, CommandReply, command_names, run_command
from bot.context import Context
from bot.domain import Severity, utcnow
from bot.settings import build_settings
from storage.db import transaction
from storage.models import Admin, Alert, EscalationStep, Feedback, Route, Rule, SlaPolicy, Source, Team
from tests.appserver import TEST_SECRET_KEY

ADMIN = Caller(Actor("U0ADMIN", "Ann Admin", "slack"), channel="C0STORE42", channel_name="store-042")
USER = Caller(Actor("U0USER", "Bob User", "slack"), channel="C0GENERAL", channel_name="general")
TEAMS_ADMIN_ID = "3c1f9e2a-7b4d-4e8f-a1c2-0d9e8f7a6b5c"  # an Entra object id; made admin by `teams_admin`
TEAMS_ADMIN = Caller(
    Actor(TEAMS_ADMIN_ID, "Ann Admin", "teams"), channel="19:room@thread.tacv2", channel_name="Room"
)
CLI_ADMIN = Caller(Actor("U0ADMIN", "Ann Admin", "slack"), channel=None)  # an admin, but in no channel
CONFIG_TABLES: list[type[SQLModel]] = [Team, Route, Rule, SlaPolicy, EscalationStep, Admin, Source]


async def open_context(database_url: str) -> Context:
    return await Context.open(
        build_settings(
            mode="test",
            database_url=database_url,
            secret_key=TEST_SECRET_KEY,
            admins=["U0ADMIN"],
            log_json=False,
        )
    )


async def teams_admin(ctx: Context) -> None:
    """TEAMS_ADMIN becomes an admin (by its Teams identity; U0ADMIN is the Slack one)."""
    async with transaction(ctx.sessions) as session:
        session.add(Admin(user_id=TEAMS_ADMIN_ID, platform="teams", added_by="test"))


async def say(ctx: Context, text: str, caller: Caller = ADMIN) -> CommandReply:
    reply = await run_command(text, caller=caller, ctx=ctx)
    assert isinstance(reply, CommandReply)
    return reply


async def ok(ctx: Context, text: str, caller: Caller = ADMIN) -> CommandReply:
    reply = await say(ctx, text, caller)
    assert reply.ok, reply.text
    return reply


async def rows(ctx: Context, model: type[Any]) -> list[Any]:
    async with ctx.sessions() as session:
        return list((await session.execute(select(model).order_by(col(model.id)))).scalars().all())


async def team(ctx: Context, name: str) -> Team:
    found: list[Team] = [t for t in await rows(ctx, Team) if t.name == name]
    assert found, f"no team {name}"
    return found[0]


async def state(ctx: Context) -> dict[str, list[dict[str, Any]]]:
    """Every configuration row, every column: equal before and after means nothing changed."""
    return {model.__name__: [row.model_dump() for row in await rows(ctx, model)] for model in CONFIG_TABLES}


# ---------------------------------------------------------------------------------------------
# help, names, unknown commands


def test_command_names() -> None:
    names = command_names()
    assert names == sorted(names)
    expected = {
        "help",
        "route",
        "team",
        "link",
        "sla",
        "rule",
        "escalation",
        "source",
        "admin",
        "mine",
        "stats",
        "status",
        "erase",
        "web",
        "systemic",
        "coach",
    }
    assert expected | {"config"} == set(names)


async def test_help_lists_every_command(ctx: Context) -> None:
    reply = await ok(ctx, "help", USER)
    for command in COMMANDS.values():
        assert command.usage in reply.text
    assert (await ok(ctx, "", USER)).text == reply.text  # nothing typed: the same help


async def test_help_for_every_command(ctx: Context) -> None:
    for path, command in COMMANDS.items():
        reply = await ok(ctx, "help " + " ".join(path), USER)
        assert f"Usage: {command.usage}" in reply.text
        assert ("Only hotloop admins can run it." in reply.text) == command.admin
    group = await ok(ctx, "help route", USER)
    assert all(c.usage in group.text for p, c in COMMANDS.items() if p[0] == "route")


async def test_help_for_unknown_command_suggests(ctx: Context) -> None:
    reply = await say(ctx, "help rout", USER)
    assert not reply.ok and "'route'" in reply.text


async def test_unknown_command_suggests_the_closest(ctx: Context) -> None:
    reply = await say(ctx, "escalaton list", USER)
    assert not reply.ok and "Did you mean 'escalation'?" in reply.text
    reply = await say(ctx, "xyzzy", USER)
    assert not reply.ok and "Unknown command 'xyzzy'" in reply.text and "help" in reply.text


async def test_unknown_subcommand_shows_the_group(ctx: Context) -> None:
    reply = await say(ctx, "route lsit")
    assert not reply.ok and "Did you mean 'list'?" in reply.text and "route add <match>" in reply.text
    reply = await say(ctx, "team")
    assert not reply.ok and "team add <name>" in reply.text


async def test_command_words_are_case_insensitive_and_hotloop_prefix_is_ignored(ctx: Context) -> None:
    assert "Routes" in (await ok(ctx, "ROUTE List")).text
    assert "Routes" in (await ok(ctx, "/hotloop route list")).text


# ---------------------------------------------------------------------------------------------
# route


async def test_route_add_list_remove(ctx: Context) -> None:
    await ok(ctx, "team add store-042")
    reply = await ok(ctx, "route add location=042 severity>=high team store-042 priority 10")
    assert reply.changed_config and "store-042" in reply.text
    [route] = await rows(ctx, Route)
    store = await team(ctx, "store-042")
    assert (route.match, route.team_id, route.priority, route.created_by) == (
        {"location": "042", "severity": ">=high"},
        store.id,
        10,
        "U0ADMIN",
    )
    await ok(ctx, "route add region=north,south team support")
    listing = await ok(ctx, "route list", USER)
    assert "location=042 severity>=high → store-042" in listing.text
    assert "region=north,south → support" in listing.text
    assert listing.text.index("store-042") < listing.text.index("region")  # priority 10 before 100
    assert "support (the default team)" in listing.text
    removed = await ok(ctx, f"route remove #{route.id}")
    assert removed.changed_config
    assert [r.match for r in await rows(ctx, Route)] == [{"region": ["north", "south"]}]


async def test_route_add_is_seen_by_the_config_snapshot_at_once(ctx: Context) -> None:
    before = await ctx.config.get()
    await ok(ctx, "route add location=042 team support")
    after = await ctx.config.get()
    assert len(before.routes) == 0 and len(after.routes) == 1  # invalidated, not waiting for the TTL


async def test_route_here_creates_and_binds_a_team(ctx: Context) -> None:
    reply = await ok(ctx, "route here location=042")
    assert "store-042" in reply.text
    store = await team(ctx, "store-042")
    assert store.slack_channel == "C0STORE42" and store.teams_channel is None
    [route] = await rows(ctx, Route)
    assert route.team_id == store.id and route.match == {"location": "042"}
    await ok(ctx, "route here region=north priority 5")  # the bound team is reused
    assert len(await rows(ctx, Team)) == 2  # support + store-042
    assert {r.team_id for r in await rows(ctx, Route)} == {store.id}
    assert [r.priority for r in await rows(ctx, Route)] == [100, 5]


async def test_route_here_in_teams_binds_the_teams_column(ctx: Context) -> None:
    await teams_admin(ctx)
    await ok(ctx, "route here severity=critical", TEAMS_ADMIN)
    room = await team(ctx, "Room")
    assert room.teams_channel == "19:room@thread.tacv2" and room.slack_channel is None


async def test_route_here_binds_an_existing_unbound_team_of_that_name(ctx: Context) -> None:
    await ok(ctx, "team add store-042")
    await ok(ctx, "route here location=042")
    assert len(await rows(ctx, Team)) == 2
    assert (await team(ctx, "store-042")).slack_channel == "C0STORE42"


async def test_route_here_needs_a_chat_channel(ctx: Context) -> None:
    reply = await say(ctx, "route here location=042", CLI_ADMIN)
    assert not reply.ok and "channel" in reply.text
    assert await rows(ctx, Route) == []


# ---------------------------------------------------------------------------------------------
# team, link


async def test_team_add_and_list(ctx: Context) -> None:
    assert (await ok(ctx, "team add store-042 channel <#C0CHAN|store-042>")).changed_config
    await ok(ctx, 'team add "north-region"')
    await teams_admin(ctx)
    await ok(ctx, "team add teams-desk channel 19:desk@thread.tacv2", TEAMS_ADMIN)
    assert (await team(ctx, "store-042")).slack_channel == "C0CHAN"
    assert (await team(ctx, "teams-desk")).teams_channel == "19:desk@thread.tacv2"
    listing = await ok(ctx, "team list", USER)
    assert "store-042: Slack C0CHAN" in listing.text
    assert "support (default)" in listing.text and "north-region" in listing.text


async def test_team_managers_add_and_remove(ctx: Context) -> None:
    await ok(ctx, "team add store-042")
    await ok(ctx, "team managers store-042 add <@U0DANA|dana>")
    await ok(ctx, "team managers store-042 add <@U0FOX>")
    await ok(ctx, "team managers store-042 add 8f2c3a1e-0d4b-4c55-9a57-1b2c3d4e5f60")
    await ok(ctx, "team managers store-042 add teams:29:1AdeleVance")  # any id, with its platform
    assert (await team(ctx, "store-042")).managers == [  # stored as (platform, id) identities
        "slack:U0DANA",
        "slack:U0FOX",
        "teams:8f2c3a1e-0d4b-4c55-9a57-1b2c3d4e5f60",
        "teams:29:1AdeleVance",
    ]
    await ok(ctx, "team managers store-042 remove U0DANA")
    await ok(ctx, "team managers store-042 remove teams:29:1AdeleVance")
    assert (await team(ctx, "store-042")).managers == [
        "slack:U0FOX", "teams:8f2c3a1e-0d4b-4c55-9a57-1b2c3d4e5f60"
    ]
    assert "slack:U0FOX" in (await ok(ctx, "team list")).text
    assert (await ctx.config.get()).team((await team(ctx, "store-042")).id or 0).managers == {
        "slack:U0FOX",
        "teams:8f2c3a1e-0d4b-4c55-9a57-1b2c3d4e5f60",
    }
    assert not (await say(ctx, "team managers store-042 add dana")).ok  # which platform? Refused


async def test_team_hours_set_and_off(ctx: Context) -> None:
    await ok(ctx, "team add store-042")
    reply = await ok(ctx, "team hours store-042 Europe/Paris mon-fri 9:00-18:00")
    assert "Europe/Paris" in reply.text
    store = await team(ctx, "store-042")
    assert store.timezone == "Europe/Paris"
    assert store.business_hours == {
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "start": "09:00",
        "end": "18:00",
        "holidays": [],
    }
    hours = (await ctx.config.get()).team(store.id or 0).hours
    assert hours is not None and hours.timezone == "Europe/Paris" and hours.days == frozenset(range(5))
    await ok(ctx, "team hours store-042 UTC sat,sun,wed 10:00-14:30")
    assert (await team(ctx, "store-042")).business_hours == {
        "days": ["wed", "sat", "sun"],
        "start": "10:00",
        "end": "14:30",
        "holidays": [],
    }
    await ok(ctx, "team hours store-042 UTC fri-mon 08:00-12:00")  # a range may wrap the weekend
    assert (await team(ctx, "store-042")).business_hours["days"] == ["mon", "fri", "sat", "sun"]  # type: ignore[index]
    await ok(ctx, "team hours store-042 off")
    assert (await team(ctx, "store-042")).business_hours is None


@pytest.mark.parametrize(
    ("caller", "words", "column"),
    [
        (ADMIN, "link team", "slack_channel"),
        (ADMIN, "link managers", "managers_slack_channel"),
        (TEAMS_ADMIN, "link team", "teams_channel"),
        (TEAMS_ADMIN, "link managers", "managers_teams_channel"),
    ],
)
async def test_link_binds_the_current_channel_per_platform(
    ctx: Context, caller: Caller, words: str, column: str
) -> None:
    await teams_admin(ctx)
    await ok(ctx, "team add store-042")
    reply = await ok(ctx, f"{words} store-042", caller)
    assert reply.changed_config
    store = await team(ctx, "store-042")
    channels = ("slack_channel", "teams_channel", "managers_slack_channel", "managers_teams_channel")
    assert {c: getattr(store, c) for c in channels} == {
        c: caller.channel if c == column else None for c in channels
    }


async def test_link_needs_a_chat_channel(ctx: Context) -> None:
    await ok(ctx, "team add store-042")
    reply = await say(ctx, "link team store-042", CLI_ADMIN)
    assert not reply.ok
    assert (await team(ctx, "store-042")).slack_channel is None


# ---------------------------------------------------------------------------------------------
# sla, rule, escalation


async def test_sla_set_global_and_per_team(ctx: Context) -> None:
    await ok(ctx, "team add store-042")
    await ok(ctx, "sla set critical claim 15m resolve 4h")
    await ok(ctx, "sla set critical claim 10m resolve 2h team store-042")
    await ok(ctx, "sla set critical claim 20m resolve 1h30m")  # updates the global policy in place
    store = await team(ctx, "store-042")
    policies = {
        (p.team_id, p.severity): (p.claim_seconds, p.resolve_seconds) for p in await rows(ctx, SlaPolicy)
    }
    assert policies == {(None, "critical"): (1200, 5400), (store.id, "critical"): (600, 7200)}
    assert (await ctx.config.get()).sla_for(team_id=store.id or 0, severity=Severity.CRITICAL) == (600, 7200)
    listing = (await ok(ctx, "sla list", USER)).text
    assert "critical: claim 20m, resolve 1h30m" in listing
    assert "store-042 critical: claim 10m, resolve 2h" in listing
    assert "high: claim 1h, resolve 1d (built-in default)" in listing


async def test_rule_add_list_remove(ctx: Context) -> None:
    reply = await ok(
        ctx, 'rule add vip attr.tier=vip and comment contains "refund" then critical priority 10'
    )
    assert "attr.tier = vip" in reply.text
    await ok(ctx, "rule add ignore-tests attr.test=yes then none")
    rules = {r.name: (r.condition, r.severity, r.priority, r.created_by) for r in await rows(ctx, Rule)}
    assert rules["vip"][1:] == ("critical", 10, "U0ADMIN")
    assert rules["vip"][0] == {
        "all": [
            {"field": "attr.tier", "op": "=", "value": "vip"},
            {"field": "comment", "op": "contains", "value": "refund"},
        ]
    }
    assert rules["ignore-tests"][1:3] == (None, 100)
    listing = (await ok(ctx, "rule list", USER)).text
    assert listing.index("vip") < listing.index("ignore-tests")
    assert "→ none" in listing
    await ok(ctx, "rule remove vip")
    assert [r.name for r in await rows(ctx, Rule)] == ["ignore-tests"]


async def test_rule_text_survives_slack_escaping_and_smart_quotes(ctx: Context) -> None:
    await ok(ctx, "rule add angry nps&lt;=2 and comment contains “manager” then critical")
    [rule] = await rows(ctx, Rule)
    assert rule.condition == {
        "all": [
            {"field": "nps", "op": "<=", "value": 2},
            {"field": "comment", "op": "contains", "value": "manager"},
        ]
    }


async def test_rule_test_explains_with_the_current_rules(ctx: Context) -> None:
    body = '{"nps": 9, "attributes": {"tier": "vip"}}'
    default = await ok(ctx, f"rule test {body}", USER)
    assert "Outcome: no alert" in default.text and "default rules" in default.text
    await ok(ctx, "rule add vip attr.tier=vip then critical")
    custom = await ok(ctx, f"rule test {body}", USER)
    assert "Outcome: alert, severity critical" in custom.text and "custom rule 'vip'" in custom.text
    assert not custom.changed_config
    await ok(ctx, "rule add from-typeform source=typeform then low priority 1")
    by_source = await ok(ctx, f"rule test source typeform {body}", USER)
    assert "severity low" in by_source.text


async def test_escalation_set_list_clear(ctx: Context) -> None:
    await ok(ctx, "team add store-042")
    await ok(ctx, "escalation set store-042 1 after 0s to teams:19:mgr@thread.tacv2")
    await ok(ctx, "escalation set store-042 2 after 1h to slack:<@U0REGIONAL|reg>")
    await ok(ctx, "escalation set * 1 after 2h to slack:<#C0ESCALATE|escalations>")
    await ok(ctx, "escalation set store-042 2 after 90m to slack:U0REGIONAL")  # replaces level 2
    store = await team(ctx, "store-042")
    steps = [
        (s.team_id, s.level, s.after_seconds, s.platform, s.destination)
        for s in await rows(ctx, EscalationStep)
    ]
    assert steps == [
        (store.id, 1, 0, "teams", "19:mgr@thread.tacv2"),
        (store.id, 2, 5400, "slack", "U0REGIONAL"),
        (None, 1, 7200, "slack", "C0ESCALATE"),
    ]
    assert [t.destination for t in (await ctx.config.get()).escalation_steps(store.id or 0)] == [
        "19:mgr@thread.tacv2",
        "U0REGIONAL",
    ]
    listing = (await ok(ctx, "escalation list")).text
    assert "level 2: after 1h30m → slack:U0REGIONAL" in listing and "every team (*)" in listing
    one = (await ok(ctx, "escalation list store-042")).text
    assert "store-042" in one
    assert (await ok(ctx, "escalation clear store-042")).changed_config
    assert [s.team_id for s in await rows(ctx, EscalationStep)] == [None]
    await ok(ctx, "escalation clear *")
    assert await rows(ctx, EscalationStep) == []
    nothing = await ok(ctx, "escalation clear *")
    assert not nothing.changed_config


# ---------------------------------------------------------------------------------------------
# sources, admins (happy paths; refusals in test_commands_admin.py)


async def test_source_add_list_rotate(ctx: Context) -> None:
    reply = await ok(ctx, "source add web generic")
    assert reply.secret and "/webhooks/web" in reply.text
    runtime = await ctx.source("web")
    assert runtime is not None and runtime.kind == "generic" and runtime.secret in reply.text
    given_secret = await ok(ctx, "source add tf typeform my-own-secret-123")
    assert given_secret.secret and "my-own-secret-123" in given_secret.text
    listing = await ok(ctx, "source list")
    assert "web (generic)" in listing.text and "tf (typeform)" in listing.text
    assert runtime.secret not in listing.text and not listing.secret
    rotated = await ok(ctx, "source rotate-secret web")
    new = await ctx.source("web")
    assert rotated.secret and new is not None and new.secret in rotated.text and new.secret != runtime.secret


async def test_admin_add_list_remove(ctx: Context) -> None:
    await ok(ctx, "admin add <@U0SECOND|sam>")
    await ok(ctx, "admin add 8f2c3a1e-0d4b-4c55-9a57-1b2c3d4e5f60")
    await ok(ctx, "admin add teams:U0ADMIN")  # the same id on Teams is another person: a second row
    admins = {(a.platform, a.user_id): a.added_by for a in await rows(ctx, Admin)}
    assert admins == {
        ("slack", "U0ADMIN"): "env",
        ("slack", "U0SECOND"): "U0ADMIN",
        ("teams", "8f2c3a1e-0d4b-4c55-9a57-1b2c3d4e5f60"): "U0ADMIN",
        ("teams", "U0ADMIN"): "U0ADMIN",
    }
    listing = await ok(ctx, "admin list", USER)
    assert all(user in listing.text for _, user in admins)
    await ok(ctx, "admin remove <@U0SECOND>")
    await ok(ctx, "admin remove teams:U0ADMIN")
    assert {(a.platform, a.user_id) for a in await rows(ctx, Admin)} == {
        ("slack", "U0ADMIN"), ("teams", "8f2c3a1e-0d4b-4c55-9a57-1b2c3d4e5f60")
    }
    second = Caller(Actor("U0SECOND", "Sam", "slack"), channel="C0X")
    assert not (await say(ctx, "route add location=1 team support", second)).ok  # removed: refused
    guid = Caller(Actor("8f2c3a1e-0d4b-4c55-9a57-1b2c3d4e5f60", "Gil", "teams"), channel="19:x@thread.tacv2")
    assert (await say(ctx, "route add location=1 team support", guid)).ok  # added: allowed


# ---------------------------------------------------------------------------------------------
# mine, stats, config export


async def _alert(ctx: Context, *, key: str, owner: str | None, status: str, severity: str = "high") -> None:
    now = utcnow()
    async with transaction(ctx.sessions) as session:
        source = (await session.execute(select(Source))).scalars().first()
        if source is None:
            source = Source(name="web", kind="generic", secret_encrypted="x")
            session.add(source)
            await session.flush()
        feedback = Feedback(source_id=source.id or 0, external_id=key)
        session.add(feedback)
        await session.flush()
        support = (await session.execute(select(Team).where(col(Team.name) == "support"))).scalar_one()
        claimed = status != "open"
        session.add(
            Alert(
                key=key,
                feedback_id=feedback.id or 0,
                severity=severity,
                status=status,
                team_id=support.id or 0,
                owner_id=owner,
                owner_platform="slack" if owner else None,
                created_at=now - timedelta(hours=2),
                claimed_at=now - timedelta(hours=1) if claimed else None,
                resolved_at=now if status == "resolved" else None,
                claim_due_at=now + timedelta(minutes=30),
                resolve_due_at=now - timedelta(minutes=10),
                snoozed_until=now + timedelta(hours=1) if status == "snoozed" else None,
            )
        )


async def test_mine_lists_only_the_callers_active_alerts(ctx: Context) -> None:
    assert "no open alerts" in (await ok(ctx, "mine", USER)).text
    await _alert(ctx, key="HA-1001", owner="U0USER", status="claimed", severity="critical")
    await _alert(ctx, key="HA-1002", owner="U0USER", status="snoozed")
    await _alert(ctx, key="HA-1003", owner="U0USER", status="resolved")
    await _alert(ctx, key="HA-1004", owner="U0OTHER", status="claimed")
    await _alert(ctx, key="HA-1005", owner=None, status="open")
    text = (await ok(ctx, "mine", USER)).text
    assert "HA-1001" in text and "critical" in text and "Resolve overdue" in text
    assert "HA-1002" in text and "Snoozed until" in text
    assert all(key not in text for key in ("HA-1003", "HA-1004", "HA-1005"))
    assert "HA-1004" in (await ok(ctx, "mine", Caller(Actor("U0OTHER", "O", "slack"), "C1"))).text
    # a Teams user whose id happens to be U0USER owns none of the Slack user's alerts
    assert "no open alerts" in (await ok(ctx, "mine", Caller(Actor("U0USER", "T", "teams"), "19:x"))).text


async def test_stats_reports_figures(ctx: Context) -> None:
    await ok(ctx, "team add store-042")
    await _alert(ctx, key="HA-1", owner="U0USER", status="claimed")
    await _alert(ctx, key="HA-2", owner="U0USER", status="resolved")
    await _alert(ctx, key="HA-3", owner=None, status="open")
    text = (await ok(ctx, "stats", USER)).text
    assert "last 7d" in text and "all teams: 3 alerts" in text and "support: 3 alerts" in text
    assert "responded 67 %" in text and "median claim 1.0 h" in text
    team_only = (await ok(ctx, "stats 30d support", USER)).text
    assert "last 30d" in team_only and "support: 3 alerts" in team_only and "all teams" not in team_only
    empty = (await ok(ctx, "stats store-042", USER)).text
    assert "store-042: 0 alerts" in empty
    assert not (await say(ctx, "stats 7d nosuchteam", USER)).ok


async def test_config_export_is_yaml_for_the_caller_only(ctx: Context) -> None:
    await ok(ctx, "team add store-042")
    await ok(ctx, "route add location=042 team store-042 priority 10")
    await ok(ctx, "sla set critical claim 15m resolve 4h")
    reply = await ok(ctx, "config export")
    assert reply.secret and not reply.changed_config
    document = yaml.safe_load(reply.text)
    assert document["default_team"] == "support"
    assert document["routes"] == [{"match": {"location": "042"}, "team": "store-042", "priority": 10}]
    assert document["sla"] == {"critical": {"claim": "15m", "resolve": "4h"}}
    assert document["admins"] == ["slack:U0ADMIN"]  # identities: the platform is written down


async def test_read_only_commands_work_for_everyone(ctx: Context) -> None:
    for text in ("help", "mine", "stats", "route list", "rule list", "sla list", "team list", "admin list"):
        assert (await say(ctx, text, USER)).ok, text
    assert (await say(ctx, 'rule test {"nps": 1}', USER)).ok


# ---------------------------------------------------------------------------------------------
# never raises

_WORDS = st.sampled_from(
    [
        *command_names(),
        *{p[1] for p in COMMANDS if len(p) > 1},
        "team", "priority", "then", "after", "to", "claim", "resolve", "channel", "off", "*", "store-042",
        "support", "critical", "none", "1", "-1", "0", "99999999999", "15m", "0s", "mon-fri", "09:00-18:00",
        "Europe/Paris", "location=042", "severity>=high", "nps<=6", "<@U0X|x>", "<#C0X|x>", "slack:C1",
        "teams:19:x", '{"nps": 1}', "{", '"', "'", "#1", "generic", "\x00", "ü", "&lt;",
    ]
)  # fmt: skip
_TEXTS = st.one_of(
    st.text(max_size=80),
    st.lists(_WORDS, max_size=9).map(" ".join),
    st.tuples(st.sampled_from(sorted(COMMANDS)), st.text(max_size=40)).map(
        lambda t: " ".join(t[0]) + " " + t[1]
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_TEXTS, admin=st.booleans())
async def test_run_command_never_raises(ctx: Context, text: str, admin: bool) -> None:
    reply = await run_command(text, caller=ADMIN if admin else USER, ctx=ctx)
    assert isinstance(reply, CommandReply) and isinstance(reply.text, str) and reply.text
    assert "Something went wrong" not in reply.text, text  # every bad input gets a specific answer
    if not admin and reply.changed_config:
        raise AssertionError(f"a non-admin changed the configuration with {text!r}")


async def test_status_shows_delivery_health_and_the_failures(ctx: Context) -> None:
    from storage.models import Outbox

    now = utcnow()
    assert "No failed deliveries" in (await ok(ctx, "status")).text

    def row(status: str, ago: timedelta, **values: Any) -> Outbox:
        done = now - ago if status != "pending" else None
        return Outbox(kind="card.post", platform=values.pop("platform", "slack"), alert_id=None,
                      status=status, created_at=now - ago, next_attempt_at=now, done_at=done, **values)

    async with transaction(ctx.sessions) as session:
        session.add_all([
            row("done", timedelta(minutes=5)), row("done", timedelta(hours=2)),
            *(row("failed", timedelta(minutes=m), destination="C0GONE", last_error="channel_not_found")
              for m in (3, 30, 90)),
            row("failed", timedelta(minutes=9), platform="teams", destination="19:x", last_error="403"),
            row("failed", timedelta(days=3), destination="C0OLD", last_error="not_in_channel"),
            row("pending", timedelta(minutes=4)), row("pending", timedelta(seconds=30)),
        ])
    text = (await ok(ctx, "status")).text
    assert "2 sent, 4 failed for good; 2 waiting (oldest 4 min)" in text
    lines = text.splitlines()
    first = lines.index("Failures, most frequent first:")
    assert lines[first + 1].startswith("  slack C0GONE: channel_not_found ×3, last ")
    assert lines[first + 2].startswith("  teams 19:x: 403 ×1")
    assert "C0OLD" not in text  # older than the 24-hour window
    assert not (await say(ctx, "status", USER)).ok  # admins only
