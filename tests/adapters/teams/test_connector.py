"""TeamsChat against a real loopback fake Bot Connector: paths, bodies, errors. No mocks.

What every chat does (post, update, reply, direct messages, digests, rate limits, refusals, timeouts, cut
cards) is the contract suite's, run on Slack and Teams alike: tests/chat/test_chat_port_contract.py.
Here: what only Teams has — how a thread starts, ids in URLs, the serviceUrl of a reference, 1:1
conversations, a missing bot token, `Retry-After` dates and UTF-16 sizes."""

from __future__ import annotations

import json

import pytest

from adapters.teams.connector import TeamsChat, parse_retry_after
from adapters.teams.render import CONTENT_TYPE
from bot.chat.port import CardPlace, ChatError
from tests.chat.backends import TEAMS_TENANT as TENANT
from tests.chat.backends import TEAMS_TOKEN
from tests.factories import sample_card
from tests.fakes.bot_connector import FakeBotConnector, utf16_bytes

CHANNEL = "19:abc123@thread.tacv2"
USER = "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39"


async def _token() -> str:
    return TEAMS_TOKEN


async def test_post_card_starts_a_thread(teams_chat: TeamsChat, fake_teams: FakeBotConnector) -> None:
    posted = await teams_chat.post_card(channel=CHANNEL, card=sample_card())
    (call,) = fake_teams.calls()
    assert (call.method, call.path) == ("POST", "/v3/conversations")
    assert call.headers["authorization"] == "Bearer s3cret"
    body = call.body
    assert body["isGroup"] is True and body["channelData"]["channel"] == {"id": CHANNEL}
    activity = body["activity"]
    assert activity["type"] == "message" and "text" not in activity  # card without text (§15)
    (att,) = activity["attachments"]
    assert att["contentType"] == CONTENT_TYPE and att["content"]["version"] == "1.5"
    assert posted.channel == CHANNEL
    assert posted.thread_id == f"{CHANNEL};messageid={posted.message_id}"
    assert posted.conversation_ref and posted.conversation_ref["conversation"]["id"] == posted.thread_id


async def test_thread_and_activity_ids_are_percent_encoded_in_urls(
    teams_chat: TeamsChat, fake_teams: FakeBotConnector
) -> None:
    posted = await teams_chat.post_card(channel=CHANNEL, card=sample_card())
    place = CardPlace(channel=posted.channel, message_id=posted.message_id, thread_id=posted.thread_id)
    await teams_chat.update_card(place=place, card=sample_card(status="claimed", owner_name="Fox Mulder"))
    await teams_chat.post_reply(place=place, text="Claimed by *Fox*", mention="29:fox")
    _, put, reply = fake_teams.calls()
    assert posted.thread_id and ";" in posted.thread_id and ":" in posted.thread_id
    assert (put.conversation, put.activity_id) == (posted.thread_id, posted.message_id)
    assert ";" not in put.raw_path and ":" not in put.raw_path  # the id is percent-encoded in the URL
    assert reply.conversation == posted.thread_id and ";" not in reply.raw_path


async def test_update_uses_service_url_of_the_reference(fake_teams: FakeBotConnector) -> None:
    async with TeamsChat(service_url="http://127.0.0.1:9/", token_provider=_token, tenant_id=None) as chat:
        place = CardPlace(
            channel=CHANNEL,
            message_id="77",
            thread_id=f"{CHANNEL};messageid=77",
            conversation_ref={"serviceUrl": fake_teams.url},
        )
        await chat.update_card(place=place, card=sample_card())
    assert fake_teams.calls()[0].activity_id == "77"


async def test_send_direct_creates_one_to_one_conversation(
    teams_chat: TeamsChat, fake_teams: FakeBotConnector
) -> None:
    await teams_chat.send_direct(user=USER, text="HA-1001 was reassigned to you", card=sample_card())
    await teams_chat.send_direct(user=USER, text="again")
    create, text, card, again = fake_teams.calls()
    assert create.path == "/v3/conversations"
    assert create.body["isGroup"] is False and create.body["members"] == [{"id": USER}]
    assert create.body["tenantId"] == TENANT
    conversation = f"a:dm-{USER}"
    assert text.path == card.path == again.path == f"/v3/conversations/{conversation}/activities"
    assert text.body["text"] == "HA\\-1001 was reassigned to you" and "attachments" not in text.body
    assert "text" not in card.body and card.body["attachments"][0]["contentType"] == CONTENT_TYPE
    assert len(fake_teams.activities_in(conversation)) == 3  # conversation created once, then reused


async def test_missing_token_is_permanent_401(fake_teams: FakeBotConnector) -> None:
    fake_teams.expected_token = TEAMS_TOKEN  # Teams demands the bot's token
    async with TeamsChat(service_url=fake_teams.url, token_provider=None, tenant_id=None) as chat:
        with pytest.raises(ChatError) as info:
            await chat.post_card(channel=CHANNEL, card=sample_card())
    assert info.value.permanent is True and "401" in info.value.reason
    assert "authorization" not in fake_teams.calls()[0].headers


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past


async def test_the_fake_measures_activities_in_utf16_like_teams(fake_teams: FakeBotConnector) -> None:
    """28 KB of UTF-16 bytes: 13,000 ASCII characters pass; 7,200 emoji (two UTF-16 code units each,
    28,800 bytes) do not, though they are only 7,200 Python characters."""
    async with TeamsChat(service_url=fake_teams.url, token_provider=_token, tenant_id=None) as chat:
        place = CardPlace(channel=CHANNEL, message_id="1", thread_id=f"{CHANNEL};messageid=1")
        await chat.post_reply(place=place, text="a" * 13_000)
        with pytest.raises(ChatError) as info:
            await chat.post_reply(place=place, text="😡" * 7_200)
    assert info.value.content
    assert [c.status for c in fake_teams.calls()] == [201, 413]
    refused = fake_teams.calls()[1].body
    assert utf16_bytes(refused) > 28 * 1024 > len(json.dumps(refused, ensure_ascii=False))
