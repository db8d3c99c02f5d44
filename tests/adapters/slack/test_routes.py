"""POST /slack/events through the real app (uvicorn on loopback) against the fake Slack Web API.

No mocks: signed requests in, real Bolt, real database (SQLite and PostgreSQL), real outbox worker.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlencode

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.slack import translate
from adapters.slack.routes import NOT_CONFIGURED
from bot.action_ids import ActionId
from storage.models import WebhookDelivery
from tests.adapters.slack.slackapp import (
    ANA,
    BEN,
    CHANNEL,
    SIGNING_SECRET,
    SlackApp,
    block_actions,
    home_opened,
    menu_choice,
    sign,
    slack_app,
)
from tests.appserver import serve_app, test_settings
from tests.fakes.slack_api import FakeSlackApi
from tests.fixtures import payload, payload_bytes


@pytest.fixture
async def slack(engine: AsyncEngine, database_url: str, slack_api: FakeSlackApi) -> AsyncIterator[SlackApp]:
    async with slack_app(database_url, slack_api) as app:
        yield app


# ---- pure translation --------------------------------------------------------------------------


def test_menu_values_translate_to_actions_with_options() -> None:
    snooze = translate.parse_click(menu_choice("alert.snooze|HA-1001|30m"))
    assert snooze == translate.Click(ActionId.SNOOZE, "HA-1001", {"until": "30m"})
    note = translate.parse_click(menu_choice("alert.note|HA-1001"))
    assert note == translate.Click(ActionId.NOTE, "HA-1001", {})
    claim = translate.parse_click({"action_id": "alert.claim", "value": "HA-7"})
    assert claim == translate.Click(ActionId.CLAIM, "HA-7", {})
    for junk in (
        {"action_id": "other", "value": "HA-1"},
        {"action_id": "alert.claim", "value": ""},
        menu_choice("alert.more|HA-1"),
        menu_choice("nope|HA-1"),
        {"action_id": "alert.more"},
    ):
        assert translate.parse_click(junk) is None


def test_actor_and_channel_from_the_payload() -> None:
    body = block_actions(ANA, {"action_id": "alert.claim", "value": "HA-1"})
    assert translate.actor_from(body["user"]) == translate.Actor("U0ANA", "ana", "slack")
    assert translate.channel_of(body) == CHANNEL and not translate.from_home(body)
    home = block_actions(ANA, {"action_id": "alert.claim", "value": "HA-1"}, channel=None)
    assert translate.channel_of(home) is None and translate.from_home(home)


# ---- the endpoint ------------------------------------------------------------------------------


async def test_not_configured_is_503_with_what_to_set(engine: AsyncEngine, database_url: str) -> None:
    async with serve_app(test_settings(database_url)) as server:
        reply = await server.client.post("/slack/events", content=b"payload=%7B%7D")
    assert reply.status_code == 503
    assert reply.json() == {"error": NOT_CONFIGURED}


async def test_url_verification_echoes_the_challenge(slack: SlackApp) -> None:
    reply = await slack.event(
        {
            "token": "t",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    )
    assert reply.status_code == 200
    assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in reply.text


async def test_claim_click_acks_fast_claims_updates_the_card_and_the_thread(slack: SlackApp) -> None:
    key = await slack.new_alert()
    started = time.monotonic()
    reply = await slack.click(ANA, "alert.claim", key)
    assert reply.status_code == 200
    assert time.monotonic() - started < 1.5  # Slack's limit is 3 s
    assert await slack.until(lambda: _owner_is(slack, key, "U0ANA"))
    alert = await slack.alert(key)
    assert (alert.status, alert.owner_name, alert.owner_platform) == ("claimed", "ana", "slack")
    # a Slack owner is named with a live mention, and the header says the state
    def blocks() -> str:
        return json.dumps((slack.card(key) or {}).get("blocks"), ensure_ascii=False)

    assert await slack.wait(lambda: "Claimed by <@U0ANA>" in blocks())
    assert f"{key} · Claimed by ana" in blocks()
    assert slack.fake.calls("chat.update")
    assert await slack.wait(lambda: any("ana claimed" in line for line in slack.thread(key)))
    assert slack.ephemerals(ANA) == []  # success needs no extra message


async def _owner_is(slack: SlackApp, key: str, owner: str | None) -> bool:
    return (await slack.alert(key)).owner_id == owner


@pytest.mark.parametrize(
    ("secret", "age", "headers"),
    [
        ("some-other-signing-secret-000", 0, None),  # wrong secret
        (SIGNING_SECRET, 301, None),  # stale
        (SIGNING_SECRET, -301, None),  # from the future
        (SIGNING_SECRET, 0, {"x-slack-signature": ""}),  # missing
        (SIGNING_SECRET, 0, {"x-slack-signature": "v0=deadbeef"}),  # garbage
        (SIGNING_SECRET, 0, {"x-slack-request-timestamp": "soon"}),  # no usable timestamp
    ],
)
async def test_bad_signatures_are_401_and_change_nothing(
    slack: SlackApp, secret: str, age: int, headers: dict[str, str] | None
) -> None:
    key = await slack.new_alert()
    calls_before = len(slack.fake.calls())
    body = "payload=" + json.dumps(block_actions(ANA, {"action_id": "alert.claim", "value": key}))
    reply = await slack.post(
        body.encode(),
        content_type="application/x-www-form-urlencoded",
        headers=headers,
        secret=secret,
        timestamp=int(time.time()) - age,
    )
    assert reply.status_code == 401
    await asyncio.sleep(0.3)
    alert = await slack.alert(key)
    assert (alert.status, alert.owner_id, alert.version) == ("open", None, 1)
    assert len(slack.fake.calls()) == calls_before


async def test_altered_body_is_401(slack: SlackApp) -> None:
    key = await slack.new_alert()
    body = ("payload=" + json.dumps(block_actions(ANA, {"action_id": "alert.claim", "value": key}))).encode()
    headers = sign(body)
    reply = await slack.client.post(
        "/slack/events",
        content=body.replace(b"U0ANA", b"U0BEN"),
        headers={"content-type": "application/x-www-form-urlencoded", **headers},
    )
    assert reply.status_code == 401
    assert (await slack.alert(key)).owner_id is None


async def test_two_concurrent_claims_one_owner_and_the_loser_is_told_who_won(slack: SlackApp) -> None:
    key = await slack.new_alert()
    replies = await asyncio.gather(slack.click(ANA, "alert.claim", key), slack.click(BEN, "alert.claim", key))
    assert [r.status_code for r in replies] == [200, 200]
    assert await slack.wait(lambda: len(slack.ephemerals(ANA) + slack.ephemerals(BEN)) == 1)
    alert = await slack.alert(key)
    winner, loser = (ANA, BEN) if alert.owner_id == ANA["id"] else (BEN, ANA)
    assert alert.owner_id == winner["id"]
    [message] = slack.ephemerals(loser)
    assert f"already claimed by {winner['name']}" in message
    [call] = slack.fake.calls("chat.postEphemeral")
    assert call.args["channel"] == CHANNEL
    assert (await slack.events(key)).count("claimed") == 1


async def test_unclaim_by_someone_else_is_refused_privately(slack: SlackApp) -> None:
    key = await slack.new_alert()
    await slack.click(ANA, "alert.claim", key)
    assert await slack.until(lambda: _owner_is(slack, key, "U0ANA"))
    await slack.click(BEN, "alert.unclaim", key)
    assert await slack.wait(lambda: bool(slack.ephemerals(BEN)))
    assert "Only the owner" in slack.ephemerals(BEN)[0]
    alert = await slack.alert(key)
    assert (alert.status, alert.owner_id, alert.version) == ("claimed", "U0ANA", 2)


async def test_owner_can_unclaim(slack: SlackApp) -> None:
    key = await slack.new_alert()
    await slack.click(ANA, "alert.claim", key)
    assert await slack.until(lambda: _owner_is(slack, key, "U0ANA"))
    await slack.click(ANA, "alert.unclaim", key)
    assert await slack.until(lambda: _owner_is(slack, key, None))
    assert (await slack.alert(key)).status == "open"


async def test_snooze_from_the_card_menu(slack: SlackApp) -> None:
    key = await slack.new_alert()
    reply = await slack.interact(block_actions(BEN, menu_choice(f"alert.snooze|{key}|30m")))
    assert reply.status_code == 200

    async def snoozed() -> bool:
        return (await slack.alert(key)).status == "snoozed"

    assert await slack.until(snoozed)
    alert = await slack.alert(key)
    assert alert.snoozed_until is not None
    remaining = (alert.snoozed_until - alert.updated_at).total_seconds()
    assert 29 * 60 <= remaining <= 31 * 60
    assert await slack.wait(lambda: any("snoozed" in line for line in slack.thread(key)))


async def test_not_actionable_from_the_menu_resolves_without_a_form(slack: SlackApp) -> None:
    key = await slack.new_alert()
    await slack.interact(block_actions(ANA, menu_choice(f"alert.not_actionable|{key}")))

    async def resolved() -> bool:
        return (await slack.alert(key)).outcome == "not_actionable"

    assert await slack.until(resolved)
    assert not slack.fake.calls("views.open")


async def test_unknown_alert_is_answered_privately(slack: SlackApp) -> None:
    await slack.click(ANA, "alert.claim", "HA-9999")
    assert await slack.wait(lambda: bool(slack.ephemerals(ANA)))
    assert "There is no alert HA-9999" in slack.ephemerals(ANA)[0]


async def test_slash_command_answers_only_the_caller(slack: SlackApp) -> None:
    started = time.monotonic()
    reply = await slack.command(ANA, "help")
    assert reply.status_code == 200 and time.monotonic() - started < 1.5
    assert await slack.wait(lambda: bool(slack.ephemerals(ANA)))
    [call] = slack.fake.calls("chat.postEphemeral")
    assert (call.args["channel"], call.args["user"]) == (CHANNEL, "U0ANA")
    text = call.args["text"]
    assert text.startswith("```") and "hotloop commands" in text
    assert "<" not in text.strip("`")  # plain text is escaped for mrkdwn
    assert not slack.fake.calls("chat.postMessage")  # nothing public


async def test_slash_command_where_the_bot_cannot_post_answers_through_response_url(slack: SlackApp) -> None:
    slack.fake.fail_next(error="channel_not_found", method="chat.postEphemeral")
    await slack.command(ANA, "help", channel="C0NOBOT")
    assert await slack.wait(lambda: bool(slack.fake.calls("commands/T0TEST/1/x")))
    [call] = slack.fake.calls("commands/T0TEST/1/x")
    assert call.args["response_type"] == "ephemeral" and "hotloop commands" in call.args["text"]


async def test_socket_mode_is_tried_at_startup_and_never_blocks_http(
    engine: AsyncEngine, database_url: str, slack_api: FakeSlackApi
) -> None:
    async with slack_app(database_url, slack_api, slack_app_token="xapp-1-test") as slack:
        runtime = slack.server.app.state.slack
        assert runtime.socket is not None
        assert await slack.wait(lambda: bool(slack.fake.calls("apps.connections.open")))
        reply = await slack.event({"token": "t", "challenge": "abc", "type": "url_verification"})
        assert reply.status_code == 200
    assert runtime.socket is None  # closed on shutdown


async def test_event_retries_are_processed_once(slack: SlackApp) -> None:
    first = await slack.event(home_opened("U0ANA", "Ev0RETRY1"))
    assert first.status_code == 200
    assert await slack.wait(lambda: len(slack.fake.calls("views.publish")) == 1)
    retry = await slack.event(
        home_opened("U0ANA", "Ev0RETRY1"),
        headers={"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"},
    )
    assert retry.status_code == 200
    other = await slack.event(home_opened("U0ANA", "Ev0OTHER2"))
    assert other.status_code == 200
    assert await slack.wait(lambda: len(slack.fake.calls("views.publish")) == 2)
    await asyncio.sleep(0.3)
    assert len(slack.fake.calls("views.publish")) == 2
    async with slack.server.ctx.sessions() as session:
        count = (await session.execute(select(func.count()).select_from(WebhookDelivery))).scalar_one()
    assert count == 2


async def test_oversized_body_is_413(slack: SlackApp) -> None:
    body = b"payload=" + b"a" * (300 * 1024)
    reply = await slack.post(body, content_type="application/x-www-form-urlencoded")
    assert reply.status_code == 413


# ---- payloads shaped like the real bolt-python fixtures -----------------------------------------


def _fixture_click(**changes: object) -> dict[str, object]:
    """tests/fixtures/payloads/slack_block_actions.json, moved into the test workspace and app."""
    body = payload("slack_block_actions.json")
    body.update({"api_app_id": "A0TEST", "team": {"id": "T0TEST", "domain": "hotloop-test"}, **changes})
    return body


async def test_a_signed_block_actions_without_action_id_is_400_with_a_reason(slack: SlackApp) -> None:
    key = await slack.new_alert()
    body = _fixture_click()
    body["actions"] = [{"block_id": "b", "type": "button", "value": key, "action_ts": "1596530385.194939"}]
    reply = await slack.interact(body)
    assert reply.status_code == 400, reply.text
    assert "action_id" in reply.json()["error"]
    no_actions = await slack.interact(_fixture_click(actions=[]))
    assert no_actions.status_code == 400 and "actions" in no_actions.json()["error"]
    form = payload("slack_view_submission.json")
    form.update({"api_app_id": "A0TEST", "team": {"id": "T0TEST", "domain": "hotloop-test"}})
    del form["view"]["callback_id"]
    no_callback = await slack.interact(form)
    assert no_callback.status_code == 400 and "callback_id" in no_callback.json()["error"]
    assert (await slack.alert(key)).version == 1


async def test_the_fixture_click_from_the_test_workspace_is_served(slack: SlackApp) -> None:
    """The same fixture with a real action id works: the 400 above is about the missing id alone."""
    key = await slack.new_alert()
    body = _fixture_click(channel={"id": CHANNEL, "name": "team"},
                          container={"type": "message", "message_ts": "1.1", "channel_id": CHANNEL})
    body["actions"] = [{**body["actions"][0], "action_id": "alert.claim", "value": key}]  # type: ignore[index]
    assert (await slack.interact(body)).status_code == 200
    assert await slack.until(lambda: _owner_is(slack, key, "W111"))


async def test_a_slash_command_without_channel_or_response_url_is_answered_by_dm(slack: SlackApp) -> None:
    fields = dict(parse_qsl(payload_bytes("slack_slash_command.txt").decode()))
    fields.update({"team_id": "T0TEST", "command": "/hotloop", "text": "help"})
    del fields["channel_id"], fields["response_url"]
    reply = await slack.post(urlencode(fields).encode(), content_type="application/x-www-form-urlencoded")
    assert reply.status_code == 200
    assert await slack.wait(lambda: bool(slack.fake.messages_in("D111")))  # the fake's DM with W111
    [dm] = slack.fake.messages_in("D111")
    assert "hotloop commands" in dm["text"]
    [call] = slack.fake.calls("chat.postMessage")
    assert call.args["channel"] == "W111"
    assert not slack.fake.calls("chat.postEphemeral")
