"""One alert, two places, always in sync: a Slack team card and a Teams managers' card for the same alert.

Escalation posts the card to the managers' Teams channel; an action on either side updates both.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import pytest

from bot.actions.table import ActionId, ActionRequest, handle
from bot.alerts.lifecycle import Actor
from bot.domain import utcnow
from tests.adapters.teams.activities import CHANNEL, DETRACTOR, MEGAN, execute
from tests.appserver import AppServer, AppWithChats
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlackApi

SLACK_ADMIN = Actor("U0ADMIN", "Sam", "slack")


@pytest.fixture
async def server(app_with_chats: AppWithChats) -> AsyncIterator[AppServer]:
    """Slack and Teams on their fakes: the team's cards to Slack, its managers' cards to Teams."""
    team = {"slack_channel": "C0TEAM", "managers_teams_channel": CHANNEL}
    async with app_with_chats(slack=True, teams=True, default_team=team, admins=["U0ADMIN"]) as app:
        yield app


async def eventually(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def slack_updates(slack: FakeSlackApi, needle: str) -> list[str]:
    return [
        json.dumps(c.args["blocks"])
        for c in slack.calls("chat.update")
        if needle in json.dumps(c.args["blocks"])
    ]


def teams_replacements(connector: FakeBotConnector, needle: str) -> list[object]:
    return [c.body for c in connector.calls() if c.method == "PUT" and needle in json.dumps(c.body)]


async def test_an_alert_escalated_from_slack_is_acted_on_in_teams_and_both_cards_follow(
    server: AppServer, slack: FakeSlackApi, connector: FakeBotConnector
) -> None:
    key = (await server.post_feedback(DETRACTOR)).json()["alert"]
    await eventually(
        lambda: any(key in c.args.get("text", "") for c in slack.calls("chat.postMessage")),
        "the team card in Slack",
    )

    config = await server.ctx.config.get()
    escalated = await handle(
        ActionRequest(ActionId.ESCALATE, key, SLACK_ADMIN, {"reason": "VIP"}),
        sessions=server.ctx.sessions,
        config=config,
        now=utcnow(),
    )
    assert escalated.ok
    server.ctx.signal.notify()
    await eventually(
        lambda: any(
            c.method == "POST" and c.path.endswith("/v3/conversations") and key in json.dumps(c.body)
            for c in connector.calls()
        ),
        "the managers' card in Teams",
    )
    managers_card = next(
        c.body for c in connector.calls() if c.method == "POST" and key in json.dumps(c.body)
    )
    assert "dana@example.com" not in json.dumps(managers_card), "managers' cards carry no contact details"

    claimed = await server.client.post("/api/messages", json=execute(connector.url, "alert.claim", key))
    assert claimed.status_code == 200 and "Megan Bowen" in claimed.text
    await eventually(
        lambda: bool(slack_updates(slack, "Megan Bowen")), "the Slack card to show the Teams claim"
    )
    await eventually(
        lambda: bool(teams_replacements(connector, "Megan Bowen")), "the Teams card to be replaced"
    )

    resolved = await handle(
        ActionRequest(ActionId.RESOLVE, key, SLACK_ADMIN, {"outcome": "recovered", "root_cause": "staff"}),
        sessions=server.ctx.sessions,
        config=config,
        now=utcnow(),
    )
    assert resolved.ok, resolved.message
    server.ctx.signal.notify()
    await eventually(
        lambda: bool(teams_replacements(connector, "Recovered")), "the Teams card to show the resolution"
    )
    await eventually(lambda: bool(slack_updates(slack, "Recovered")), "the Slack card to show the resolution")
    thread_lines = [c.args["text"] for c in slack.calls("chat.postMessage") if c.args.get("thread_ts")]
    assert any("Megan Bowen claimed" in line for line in thread_lines)
    assert MEGAN["name"] in json.dumps(teams_replacements(connector, "Recovered")[-1])
