"""`/hotloop systemic set|show` (bot/commands/systemic.py): admins tune a team's spike detection; the
answers say the effective values; bad input changes nothing. SQLite and, with
HOTLOOP_TEST_DATABASE_URL, PostgreSQL."""

from __future__ import annotations

import pytest

from bot.context import Context
from bot.systemic.detect import SystemicSettings
from tests.bot.commands.test_commands import USER, say, team


async def test_set_changes_only_what_is_given_and_says_the_effective_values(ctx: Context) -> None:
    assert (await say(ctx, "team add store-042")).ok
    reply = await say(ctx, "systemic set store-042 window 4h min 5")
    assert reply.ok and reply.changed_config, reply.text
    said = "store-042: on: window 4h, min 5, sensitivity 0.01 (set for the team: min_count, window)"
    assert said in reply.text
    assert (await team(ctx, "store-042")).systemic == {"window": "4h", "min_count": 5}

    reply = await say(ctx, "systemic set store-042 sensitivity 0.001 off")
    assert "store-042: off: window 4h, min 5, sensitivity 0.001" in reply.text
    config = await ctx.config.get()
    found = next(t for t in config.teams.values() if t.name == "store-042")
    assert found.systemic == SystemicSettings(14400, 5, 0.001, False)  # the snapshot was reloaded

    reply = await say(ctx, "systemic set store-042 reset")
    assert "store-042: on: window 2h, min 3, sensitivity 0.01 (HOTLOOP_SYSTEMIC_* defaults)" in reply.text
    assert (await team(ctx, "store-042")).systemic is None


async def test_every_team_and_show(ctx: Context) -> None:
    assert (await say(ctx, "team add store-042")).ok
    reply = await say(ctx, "systemic set * min 4")
    assert "support: on: window 2h, min 4" in reply.text and "store-042: on: window 2h, min 4" in reply.text
    shown = await say(ctx, "systemic show", USER)  # anyone may read the settings
    assert shown.ok and "store-042: on: window 2h, min 4" in shown.text and "support:" in shown.text
    one = await say(ctx, "systemic show store-042", USER)
    assert "store-042" in one.text and "support" not in one.text
    assert not (await say(ctx, "systemic show nosuchteam")).ok


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("systemic set store-042", "say what to change"),
        ("systemic set store-042 window", "'window' needs a value"),
        ("systemic set store-042 window soon", "window: not a duration"),
        ("systemic set store-042 window 5s", "between 1m and 7d"),
        ("systemic set store-042 min 0", "min_count: Input should be greater than or equal to 1"),
        ("systemic set store-042 min three", "min count must be a whole number"),
        ("systemic set store-042 sensitivity 1", "sensitivity: Input should be less than 1"),
        ("systemic set store-042 sensitivity lots", "sensitivity must be a number"),
        ("systemic set store-042 colour red", "unknown setting 'colour'"),
        ("systemic set nosuchteam min 4", "no team named 'nosuchteam'"),
        ("systemic set", "expected a team name"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(ctx: Context, text: str, said: str) -> None:
    assert (await say(ctx, "team add store-042")).ok
    assert (await say(ctx, "systemic set store-042 min 6")).ok
    reply = await say(ctx, text)
    assert not reply.ok and said in reply.text, reply.text
    assert (await team(ctx, "store-042")).systemic == {"min_count": 6}


async def test_only_admins_may_set(ctx: Context) -> None:
    assert (await say(ctx, "team add store-042")).ok
    reply = await say(ctx, "systemic set store-042 min 9", USER)
    assert not reply.ok and "Only hotloop admins" in reply.text
    assert (await team(ctx, "store-042")).systemic is None
