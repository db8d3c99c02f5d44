"""Issue 11 §3 — only the Slack workspace and app hotloop is installed for get in.

A valid signature proves a request is for this app's signing secret, not which workspace sent it. The
install is learned once at start (auth.test → team, bots.info → app id, from the fake Slack Web API);
commands, clicks, forms and events from another team, another Enterprise Grid org or another app are
refused before anything is read or written. The payloads are the real bolt-python fixtures
(tests/fixtures/payloads/slack_block_actions.json, slack_slash_command.txt), which come from workspace
T111 / app A111 / enterprise E111.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.slack.install import OTHER_APP, OTHER_WORKSPACE
from tests.adapters.slack.slackapp import (
    ANA,
    CHANNEL,
    SlackApp,
    block_actions,
    button,
    home_opened,
    slack_app,
)
from tests.adapters.teams.activities import row_counts
from tests.appserver import AppWithChats
from tests.fakes.slack_api import FakeSlackApi
from tests.fixtures import payload, payload_bytes

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
async def slack(app_with_chats: AppWithChats, fake_slack: FakeSlackApi) -> AsyncIterator[SlackApp]:
    async with app_with_chats(slack=True, admins=["U0ANA"]) as server:
        yield SlackApp(server, fake_slack)


def fixture_click(key: str, **changes: Any) -> dict[str, Any]:
    """The bolt-python block_actions fixture as a Claim click on `key`, in our channel."""
    body = payload("slack_block_actions.json")
    body["actions"] = [{**body["actions"][0], "action_id": "alert.claim", "value": key}]
    body["channel"] = {"id": CHANNEL, "name": "team"}
    body["container"] = {"type": "message", "message_ts": "1.1", "channel_id": CHANNEL}
    body.update(changes)
    return body


def fixture_command(text: str, **changes: str) -> bytes:
    fields = dict(parse_qsl(payload_bytes("slack_slash_command.txt").decode()))
    fields.update({"command": "/hotloop", "text": text, "channel_id": CHANNEL, **changes})
    return urlencode(fields).encode()


async def unchanged(slack: SlackApp, key: str, rows: dict[str, int]) -> None:
    await asyncio.sleep(0.3)  # the listener runs after the answer: give a wrongly served request time
    alert = await slack.alert(key)
    assert (alert.status, alert.owner_id, alert.version) == ("open", None, 1)
    assert await row_counts(slack.server) == rows
    assert not slack.fake.calls("chat.postEphemeral") and not slack.fake.calls("views.publish")


async def settled(slack: SlackApp) -> dict[str, int]:
    """Row counts once the delivery worker has recorded the new card (two equal snapshots)."""
    previous = await row_counts(slack.server)
    for _ in range(50):
        await asyncio.sleep(0.1)
        current = await row_counts(slack.server)
        if current == previous:
            return current
        previous = current
    return previous


async def test_another_workspace_is_refused_everything(slack: SlackApp) -> None:
    key = await slack.new_alert()
    rows = await settled(slack)
    clicked = await slack.interact(fixture_click(key, api_app_id="A0TEST"))  # team T111, as captured
    assert clicked.status_code == 403 and clicked.json()["error"] == OTHER_WORKSPACE
    commanded = await slack.post(fixture_command("team add intruders"), content_type=FORM)
    assert commanded.status_code == 200
    assert commanded.json() == {"response_type": "ephemeral", "text": OTHER_WORKSPACE}
    event = {**home_opened("U0ANA", "Ev0STRANGER"), "team_id": "T0STRANGER"}
    assert (await slack.event(event)).status_code == 200  # acknowledged: Slack would retry anything else
    await unchanged(slack, key, rows)


async def test_another_app_and_an_org_wide_request_are_refused(slack: SlackApp) -> None:
    key = await slack.new_alert()
    rows = await settled(slack)
    ours = {"team": {"id": "T0TEST", "domain": "hotloop-test"}}
    other_app = await slack.interact(fixture_click(key, **ours, api_app_id="A111"))
    assert other_app.status_code == 403 and other_app.json()["error"] == OTHER_APP
    org_wide = fixture_click(key, api_app_id="A0TEST", team=None, is_enterprise_install=True,
                             enterprise={"id": "E111", "name": "Sandbox Org"})
    org_wide["user"]["team_id"] = "T0TEST"
    refused = await slack.interact(org_wide)
    assert refused.status_code == 403 and refused.json()["error"] == OTHER_WORKSPACE
    command = fixture_command("team add intruders", team_id="T0TEST", api_app_id="A111")
    assert (await slack.post(command, content_type=FORM)).json()["text"] == OTHER_APP
    await unchanged(slack, key, rows)


async def test_the_same_fixtures_from_the_installed_workspace_and_app_are_served(slack: SlackApp) -> None:
    """Control: with our team and app id the very same payloads act (so the refusals are about them)."""
    key = await slack.new_alert()
    ours = {"team": {"id": "T0TEST", "domain": "hotloop-test"}, "api_app_id": "A0TEST"}
    assert (await slack.interact(fixture_click(key, **ours))).status_code == 200
    assert await slack.until(lambda: _owned(slack, key))
    command = fixture_command("team list", team_id="T0TEST", user_id="U0ANA")
    assert (await slack.post(command, content_type=FORM)).status_code == 200
    assert await slack.wait(lambda: bool(slack.fake.calls("chat.postEphemeral")))


async def _owned(slack: SlackApp, key: str) -> bool:
    return (await slack.alert(key)).owner_id == "W111"


async def test_the_install_is_learned_once_not_per_request(slack: SlackApp) -> None:
    """auth.test and bots.info run once at start; a burst of clicks calls neither (Bolt's default
    authorization calls auth.test for every request until its first answer is cached)."""
    keys = [await slack.new_alert(f"r-{i}") for i in range(3)]
    replies = await asyncio.gather(*(slack.click(ANA, "alert.claim", key) for key in keys),
                                   *(slack.command(ANA, text) for text in ("help", "team list", "sla list")))
    assert [r.status_code for r in replies] == [200] * 6
    assert await slack.wait(lambda: len(slack.fake.calls("chat.postEphemeral")) == 3)
    assert len(slack.fake.calls("auth.test")) == 1
    assert len(slack.fake.calls("bots.info")) == 1


@pytest.mark.parametrize(
    ("setting", "refusal"),
    [({"slack_team_id": "T0ELSEWHERE"}, OTHER_WORKSPACE), ({"slack_app_id": "A0ANOTHER"}, OTHER_APP)],
)
async def test_a_configured_workspace_or_app_wins_over_the_token(
    engine: AsyncEngine, database_url: str, slack_api: FakeSlackApi, setting: dict[str, str], refusal: str
) -> None:
    """HOTLOOP_SLACK_TEAM_ID / HOTLOOP_SLACK_APP_ID name the install explicitly: the test payloads'
    T0TEST / A0TEST are then strangers."""
    async with slack_app(database_url, slack_api, **setting) as slack:
        key = await slack.new_alert()
        reply = await slack.interact(block_actions(ANA, button("alert.claim", key)))
        assert reply.status_code == 403 and json.loads(reply.text)["error"] == refusal
        await asyncio.sleep(0.3)
        assert (await slack.alert(key)).owner_id is None
