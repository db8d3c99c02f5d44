"""Issue 7 §5 — a non-admin is refused EVERY admin-only command, from Slack and from Teams.

The list comes from `bot.commands.table.COMMANDS` (each command's `admin` flag), each run with its documented
example (so an accepted one WOULD change something). Each refusal is a clear message naming the command;
the exported configuration and the row count of every table are unchanged (for Teams, only the
message-dedupe bookkeeping grows, one row per message). An admin's command is then accepted (control).
"""

from __future__ import annotations

from bot.commands.table import COMMANDS, Command, command_names
from tests.adapters.slack.slackapp import ADMIN, ANA
from tests.adapters.teams.activities import ADELE, message
from tests.security.conftest import World

ADMIN_ONLY: dict[tuple[str, ...], Command] = {path: cmd for path, cmd in COMMANDS.items() if cmd.admin}
REFUSAL = "Only hotloop admins"


def invocation(path: tuple[str, ...], command: Command) -> str:
    """The documented example, else the command words with a plausible argument."""
    return command.example or " ".join((*path, "store-042"))


def test_the_admin_only_list_is_the_real_one() -> None:
    assert len(ADMIN_ONLY) >= 15
    assert {path[0] for path in ADMIN_ONLY} <= set(command_names())
    # every command that changes configuration or shows secrets is admin-only
    for words in (
        ("route", "add"),
        ("team", "add"),
        ("link", "team"),
        ("sla", "set"),
        ("rule", "add"),
        ("escalation", "set"),
        ("source", "add"),
        ("source", "rotate-secret"),
        ("admin", "add"),
        ("admin", "remove"),
        ("config", "export"),
        ("source", "list"),
    ):
        assert words in ADMIN_ONLY, words


async def test_a_slack_non_admin_is_refused_every_admin_command(open_world: World) -> None:
    world, slack = open_world, open_world.slack
    config, rows = await world.config(), await world.settled_rows()
    for path, command in ADMIN_ONLY.items():
        text = invocation(path, command)
        answer = await world.ephemeral_reply(ANA, text)
        assert REFUSAL in answer and " ".join(path) in answer, (text, answer)
    assert not world.fake.calls("chat.postMessage"), "a refusal went public"
    assert await world.config() == config
    after = await world.settled_rows()
    # the only rows: each signed command's replay key (it acts once, even when refused)
    assert after.pop("webhookdelivery") == rows.pop("webhookdelivery") + len(ADMIN_ONLY)
    assert after == rows

    # control: the admin's own command goes through
    await slack.command(ADMIN, "team add control-team")
    assert await slack.wait(lambda: bool(slack.ephemerals(ADMIN)))
    assert "control-team" in slack.ephemerals(ADMIN)[0], slack.ephemerals(ADMIN)
    assert "control-team" in [team["name"] for team in (await world.config())["teams"]]


async def test_a_teams_non_admin_is_refused_every_admin_command(open_world: World) -> None:
    world = open_world
    url = world.connector.url
    warm = await world.server.client.post("/api/messages", json=message(url, "help", user=ADELE))
    assert warm.status_code == 200  # the conversation reference now exists
    config, rows = await world.config(), await world.settled_rows()
    for path, command in ADMIN_ONLY.items():
        text = invocation(path, command)
        seen = len(world.connector.calls())
        reply = await world.server.client.post("/api/messages", json=message(url, text, user=ADELE))
        assert reply.status_code == 200, (text, reply.text)
        calls = world.connector.calls()[seen:]
        answers = [str((c.body or {}).get("text", "")) for c in calls if isinstance(c.body, dict)]
        assert len(answers) == 1 and REFUSAL in answers[0], (text, answers)
        assert not any("a:dm-" in (c.conversation or "") for c in calls), "a refusal needs no private message"
    assert await world.config() == config
    after = await world.settled_rows()
    assert after.pop("webhookdelivery") == rows.pop("webhookdelivery") + len(ADMIN_ONLY)  # dedupe only
    assert after == rows
