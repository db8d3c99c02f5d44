"""Issue 11 §3 — each signed interaction acts once.

A captured request stays validly signed for Slack's 5-minute window. Replaying the exact same bytes
and headers (a click, a form, a command) is answered 200 and does nothing: one claim, one note, one
command. Teams: the same activity (same id in the same conversation) is handled once, invokes included.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from adapters.slack import modals
from bot.action_ids import ActionId, Arg
from storage import queries
from tests.adapters.slack.slackapp import (
    ANA,
    CHANNEL,
    SlackApp,
    block_actions,
    button,
    sign,
    view_submission,
)
from tests.adapters.teams.activities import DETRACTOR, MEGAN, execute, message
from tests.appserver import AppServer, AppWithChats
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlackApi

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
async def slack(app_with_chats: AppWithChats, fake_slack: FakeSlackApi) -> AsyncIterator[SlackApp]:
    async with app_with_chats(slack=True, admins=["U0ANA"]) as server:
        yield SlackApp(server, fake_slack)


class Captured:
    """One signed request, kept byte for byte, to be sent again."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.headers = {"content-type": FORM, **sign(body)}

    async def send(self, slack: SlackApp) -> httpx.Response:
        return await slack.client.post("/slack/events", content=self.body, headers=self.headers)


def interaction(payload: dict[str, Any]) -> Captured:
    return Captured(urlencode({"payload": json.dumps(payload)}).encode())


async def test_a_replayed_claim_and_unclaim_act_once(slack: SlackApp) -> None:
    key = await slack.new_alert()
    claim = interaction(block_actions(ANA, button("alert.claim", key)))
    unclaim = interaction(block_actions(ANA, button("alert.unclaim", key)))
    assert (await claim.send(slack)).status_code == 200
    assert await slack.until(lambda: _status(slack, key, "claimed"))
    assert (await unclaim.send(slack)).status_code == 200
    assert await slack.until(lambda: _status(slack, key, "open"))
    for replay in (claim, unclaim, claim):  # each used to flip the alert again
        reply = await replay.send(slack)
        assert reply.status_code == 200 and reply.text == ""
    await asyncio.sleep(0.4)
    alert = await slack.alert(key)
    assert (alert.status, alert.owner_id, alert.version) == ("open", None, 3)
    assert (await slack.events(key)).count("claimed") == 1
    assert slack.ephemerals(ANA) == []  # a replay is not even told "You already own it"


async def _status(slack: SlackApp, key: str, status: str) -> bool:
    return (await slack.alert(key)).status == status


async def test_a_replayed_form_adds_one_note(slack: SlackApp) -> None:
    key = await slack.new_alert()
    form = modals.form_view(ActionId.NOTE, key, modals.encode_metadata(key, CHANNEL))
    note = {Arg.NOTE: {"type": "plain_text_input", "value": "Called her back"}}
    submitted = interaction(view_submission(ANA, form, note))
    replies = [await submitted.send(slack) for _ in range(3)]
    assert [r.status_code for r in replies] == [200, 200, 200]
    assert await slack.until(lambda: _notes(slack, key, 1))
    await asyncio.sleep(0.4)
    assert (await slack.events(key)).count("note") == 1


async def _notes(slack: SlackApp, key: str, count: int) -> bool:
    return (await slack.events(key)).count("note") == count


async def test_a_replayed_command_runs_once(slack: SlackApp) -> None:
    fields = {
        "token": "verification_token", "team_id": "T0TEST", "team_domain": "hotloop-test",
        "channel_id": CHANNEL, "channel_name": "team", "user_id": ANA["id"], "user_name": ANA["name"],
        "command": "/hotloop", "text": "team add store-9", "api_app_id": "A0TEST",
        "response_url": slack.fake.url + "commands/T0TEST/1/x", "trigger_id": "1.1.x",
    }
    command = Captured(urlencode(fields).encode())
    assert (await command.send(slack)).status_code == 200
    assert await slack.wait(lambda: len(slack.ephemerals(ANA)) == 1)
    assert (await command.send(slack)).status_code == 200
    await asyncio.sleep(0.4)
    assert len(slack.ephemerals(ANA)) == 1  # not a second "a team named 'store-9' already exists"
    assert "store-9" in slack.ephemerals(ANA)[0] and "added" in slack.ephemerals(ANA)[0]


async def test_the_same_click_signed_again_later_is_a_new_request(slack: SlackApp) -> None:
    """Control: the key is the signature, so the same payload sent at another second acts again
    (here: a second Claim by its owner is told so) — the dedupe is about replays, not content."""
    key = await slack.new_alert()
    body = urlencode({"payload": json.dumps(block_actions(ANA, button("alert.claim", key)))}).encode()
    first = {"content-type": FORM, **sign(body, timestamp=int(time.time()) - 2)}
    second = {"content-type": FORM, **sign(body)}
    await slack.client.post("/slack/events", content=body, headers=first)
    assert await slack.until(lambda: _status(slack, key, "claimed"))
    await slack.client.post("/slack/events", content=body, headers=second)
    assert await slack.wait(lambda: any("already own" in t for t in slack.ephemerals(ANA)))


# ---- Teams --------------------------------------------------------------------------------------


@pytest.fixture
async def teams(app_with_chats: AppWithChats) -> AsyncIterator[AppServer]:
    async with app_with_chats(teams_allow_unauthenticated=True, admins=[MEGAN["aadObjectId"]]) as app:
        yield app


async def test_a_replayed_teams_invoke_acts_once(teams: AppServer, connector: FakeBotConnector) -> None:
    key = (await teams.post_feedback(DETRACTOR)).json()["alert"]
    claim = execute(connector.url, "alert.claim", key)
    unclaim = execute(connector.url, "alert.unclaim", key)
    assert (await teams.client.post("/api/messages", json=claim)).json()["type"].endswith("card.adaptive")
    assert (await teams.client.post("/api/messages", json=unclaim)).json()["type"].endswith("card.adaptive")
    for replay in (claim, unclaim, claim):
        reply = await teams.client.post("/api/messages", json=replay)
        assert reply.status_code == 200
        assert reply.json()["value"] == "Already handled."
    async with teams.ctx.sessions() as session:
        alert = await queries.get_alert(session, key=key)
        assert alert is not None and alert.id is not None
        kinds = [e.kind for e in await queries.alert_events(session, alert_id=alert.id)]
    assert (alert.status, alert.version) == ("open", 3)
    assert kinds.count("claimed") == 1 and kinds.count("unclaimed") == 1


async def test_a_replayed_teams_command_runs_once(teams: AppServer, connector: FakeBotConnector) -> None:
    activity = message(connector.url, "team add store-9")
    for _ in range(2):
        assert (await teams.client.post("/api/messages", json=activity)).status_code == 200
    conversation = activity["conversation"]["id"]
    assert connector.wait_for(lambda calls: any(c.conversation == conversation for c in calls))
    await asyncio.sleep(0.3)
    texts = [a.get("text", "") for a in connector.activities_in(conversation)]
    assert len(texts) == 1 and "added" in texts[0]
