"""Who may change what, and that refused or mistaken commands change nothing (bot/commands/table.py).

Every admin-only command is tried by a non-admin (refused, every configuration row identical), then
by an admin (accepted: so the refusal was about rights, not the words). Every usage mistake answers
with the usage line and leaves every row as it was.
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from bot.alerts.lifecycle import Actor
from bot.commands.table import COMMANDS, Caller
from bot.context import Context
from storage.db import transaction
from storage.models import Admin, Route, Team
from tests.bot.commands.test_commands import ADMIN, USER, ok, rows, say, state

TEAMS_USER = Caller(
    Actor("8f2c3a1e-0d4b-4c55-9a57-1b2c3d4e5f60", "Tia", "teams"), channel="19:x@thread.tacv2"
)
# a Teams user whose id is the Slack admin's: an identity is (platform, id), so not an admin
SAME_ID_ON_TEAMS = Caller(Actor("U0ADMIN", "Mallory", "teams"), channel="19:x@thread.tacv2")

# One valid example per admin-only command, run against the state `configured` sets up.
ADMIN_EXAMPLES: dict[tuple[str, ...], str] = {
    ("route", "add"): "route add region=north team store-042",
    ("route", "remove"): "route remove {route_id}",
    ("route", "here"): "route here region=south",
    ("team", "add"): "team add store-043",
    ("team", "managers"): "team managers store-042 add <@U0DANA|dana>",
    ("team", "hours"): "team hours store-042 Europe/Paris mon-fri 09:00-18:00",
    ("link", "team"): "link team store-042",
    ("link", "managers"): "link managers store-042",
    ("sla", "set"): "sla set high claim 1h resolve 1d",
    ("rule", "add"): "rule add angry nps<=2 then critical",
    ("rule", "remove"): "rule remove vip",
    ("escalation", "set"): "escalation set * 1 after 1h to slack:C0ESC",
    ("escalation", "list"): "escalation list",
    ("escalation", "clear"): "escalation clear store-042",
    ("source", "add"): "source add tf typeform",
    ("source", "list"): "source list",
    ("source", "rotate-secret"): "source rotate-secret web",
    ("admin", "add"): "admin add <@U0THIRD>",
    ("admin", "remove"): "admin remove U0SECOND",
    ("config", "export"): "config export",
    ("erase",): "erase dana@example.com",
    ("status",): "status",
    ("systemic", "set"): "systemic set store-042 window 4h min 5",
}
READ_ONLY = {
    "help",
    "mine",
    "stats",
    "route list",
    "rule list",
    "sla list",
    "team list",
    "rule test",
    "admin list",
    "systemic show",
    "coach",
    "web",  # issues a sign-in link (a row of its own), changes no configuration
}

USAGE_MISTAKES = [
    "route add",
    "route add location=042",
    "route add location team store-042",
    "route add severity>=urgent team store-042",
    "route add location=042 team store-042 priority high",
    "route add location=042 team store-042 priority 99999999999",
    "route add location=042 team",
    "route remove",
    "route remove abc",
    "route remove 1 2",
    "route list everything",
    "route here",
    "route here nonsense",
    "team add",
    "team add two words",
    "team add *",
    "team add x channel",
    "team add x channel <#>",
    'team add "unbalanced',
    "team list extra",
    "team managers store-042 promote U1",
    "team managers store-042 add",
    "team managers store-042 add <@>",
    "team hours store-042",
    "team hours store-042 Mars/Olympus mon-fri 09:00-18:00",
    "team hours store-042 UTC funday 09:00-18:00",
    "team hours store-042 UTC mon-fri 18:00-09:00",
    "team hours store-042 UTC mon-fri 9-5",
    "team hours store-042 UTC mon-fri 09:00-24:00",
    "link team",
    "link managers a b",
    "sla set urgent claim 1h resolve 2h",
    "sla set high claim soon resolve 2h",
    "sla set high claim 2h resolve 1h",
    "sla set high claim 0s resolve 1h",
    "sla set high claim 1h resolve 999d",
    "sla set high resolve 1h claim 2h",
    "sla set high claim 1h resolve 2h team",
    "sla list now",
    "rule add",
    "rule add angry",
    "rule add angry nps<=2",
    "rule add angry nps<=2 then urgent",
    'rule add angry comment matches "(a+)+" then high',
    "rule add angry nps<=2 then high priority x",
    "rule add angry nosuchfield=1 then high",
    "rule remove",
    "rule list all",
    "rule test",
    "rule test {not json",
    "rule test [1, 2]",
    'rule test {"nps": 42}',
    'rule test {"unknown": 1}',
    "escalation set store-042 1 after 1h to pager:C1",
    "escalation set store-042 1 after 1h to slack:",
    "escalation set store-042 0 after 1h to slack:C1",
    "escalation set store-042 5 after 1h to slack:C1",
    "escalation set store-042 1 after forever to slack:C1",
    "escalation set store-042 1 to slack:C1",
    "escalation list a b",
    "escalation clear",
    "source add web",
    "source add Bad/Name generic",
    "source add new-one smoke-signals",
    "source add new-one generic short",
    "source list all",
    "source rotate-secret",
    "admin add",
    "admin add a b",
    "admin add <#C1|chan>",
    "admin remove",
    "admin list all",
    "mine please",
    "stats 7d a b",
    "stats 9999d",
    "config export now",
]
REFUSALS = [
    "route add location=042 team nosuch",
    "route remove 999",
    "team add store-042",
    "team managers nosuch add U1",
    "team managers store-042 add U0MGR",
    "team managers store-042 remove U0NOTMGR",
    "team hours nosuch UTC mon-fri 09:00-18:00",
    "team hours nosuch off",
    "link team nosuch",
    "link managers nosuch",
    "sla set high claim 1h resolve 2h team nosuch",
    "rule add vip nps<=2 then high",
    "rule remove nosuch",
    "escalation set nosuch 1 after 1h to slack:C1",
    "escalation list nosuch",
    "escalation clear nosuch",
    "source add web generic",
    "source rotate-secret nosuch",
    "admin add U0SECOND",
    "admin remove U0NOBODY",
    "stats nosuch",
    "route frobnicate",
    "frobnicate",
]


@pytest.fixture
async def configured(ctx: Context) -> Context:
    """A little of everything, so that removals and refusals have something to act on."""
    for text in (
        "team add store-042",
        "team managers store-042 add U0MGR",
        "route add location=042 team store-042",
        "rule add vip attr.tier=vip then critical",
        "sla set critical claim 15m resolve 4h",
        "escalation set store-042 1 after 0s to slack:C0MGRS",
        "source add web generic",
        "admin add U0SECOND",
    ):
        await ok(ctx, text)
    return ctx


async def _example(ctx: Context, path: tuple[str, ...]) -> str:
    [route] = await rows(ctx, Route)
    return ADMIN_EXAMPLES[path].format(route_id=route.id)


def test_every_admin_only_command_has_an_example_and_the_rest_are_read_only() -> None:
    assert {path for path, command in COMMANDS.items() if command.admin} == set(ADMIN_EXAMPLES)
    assert {" ".join(path) for path, command in COMMANDS.items() if not command.admin} == READ_ONLY


@pytest.mark.parametrize("path", sorted(ADMIN_EXAMPLES), ids=" ".join)
async def test_admin_only_command_is_refused_for_a_non_admin_and_changes_nothing(
    configured: Context, path: tuple[str, ...]
) -> None:
    ctx = configured
    text = await _example(ctx, path)
    before = await state(ctx)
    for caller in (USER, TEAMS_USER, SAME_ID_ON_TEAMS):
        reply = await say(ctx, text, caller)
        assert not reply.ok and not reply.changed_config and not reply.secret
        assert reply.text.startswith("Only hotloop admins can") and "ask a hotloop admin" in reply.text
        assert "U0ADMIN" not in reply.text and "U0SECOND" not in reply.text  # the admins stay private
    assert await state(ctx) == before
    # the same words from an admin are fine: the refusal was about rights, not the input
    reply = await say(ctx, text, ADMIN)
    assert reply.ok, reply.text
    mutates = path[-1] not in ("list", "export", "status", "erase")  # erase changes data, not config
    assert reply.changed_config == mutates
    assert (await state(ctx) != before) == mutates


async def test_usage_mistakes_answer_with_the_usage_and_change_nothing(configured: Context) -> None:
    ctx = configured
    before = await state(ctx)
    for text in USAGE_MISTAKES:
        reply = await say(ctx, text)
        assert not reply.ok and not reply.changed_config, text
        command = COMMANDS.get(tuple(text.split()[:2])) or COMMANDS[tuple(text.split()[:1])]
        assert f"Usage: {command.usage}" in reply.text, (text, reply.text)
        assert await state(ctx) == before, text


async def test_impossible_requests_are_refused_and_change_nothing(configured: Context) -> None:
    ctx = configured
    before = await state(ctx)
    for text in REFUSALS:
        reply = await say(ctx, text)
        assert not reply.ok and not reply.changed_config and "Something went wrong" not in reply.text, text
        assert await state(ctx) == before, text


async def test_the_last_admin_cannot_be_removed(ctx: Context) -> None:
    before = await state(ctx)
    reply = await say(ctx, "admin remove <@U0ADMIN|ann>")
    assert not reply.ok and "last admin" in reply.text
    assert await state(ctx) == before
    await ok(ctx, "admin add U0SECOND")
    await ok(ctx, "admin remove U0ADMIN")  # no longer the last: an admin may even remove themselves
    assert [a.user_id for a in await rows(ctx, Admin)] == ["U0SECOND"]
    assert not (await say(ctx, "route add location=1 team support")).ok  # and is refused from then on
    second = Caller(Actor("U0SECOND", "Sam", "slack"), channel="C1")
    assert not (await say(ctx, "admin remove U0SECOND", second)).ok


async def test_refusal_when_nobody_is_admin_says_how_to_fix_it(ctx: Context) -> None:
    async with transaction(ctx.sessions) as session:
        await session.execute(delete(Admin))
    reply = await say(ctx, "team add store-042")
    assert not reply.ok and "HOTLOOP_ADMINS" in reply.text
    assert [t.name for t in await rows(ctx, Team)] == ["support"]


async def test_source_secrets_are_flagged_secret_and_work(ctx: Context) -> None:
    added = await ok(ctx, "source add web generic")
    runtime = await ctx.source("web")
    assert added.secret and runtime is not None and runtime.secret in added.text
    assert "/webhooks/web" in added.text
    rotated = await ok(ctx, "source rotate-secret web")
    runtime = await ctx.source("web")  # forgotten by the command, so read afresh
    assert rotated.secret and runtime is not None and runtime.secret in rotated.text
    for text in ("source list", "route list", "team list", "admin list"):
        reply = await ok(ctx, text)
        assert not reply.secret and runtime.secret not in reply.text


async def test_config_export_is_admin_only_and_secret(configured: Context) -> None:
    refused = await say(configured, "config export", USER)
    assert not refused.ok and "store-042" not in refused.text
    exported = await ok(configured, "config export")
    assert exported.secret and "store-042" in exported.text
