"""TeamsChat against a real loopback fake Bot Connector: paths, bodies, errors. No mocks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest

from adapters.teams.connector import TeamsChat, parse_retry_after
from adapters.teams.render import CONTENT_TYPE
from bot.cards import DigestCard, DigestItem
from bot.chat import CardPlace, Chat, ChatError
from bot.domain import AlertStatus, Severity
from tests.factories import sample_card
from tests.fakes.bot_connector import FakeBotConnector, utf16_bytes

CHANNEL = "19:abc123@thread.tacv2"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
USER = "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39"


@pytest.fixture
def fake() -> Iterator[FakeBotConnector]:
    with FakeBotConnector(expected_token="s3cret") as server:
        yield server


async def _token() -> str:
    return "s3cret"


@pytest.fixture
async def chat(fake: FakeBotConnector) -> AsyncIterator[TeamsChat]:
    async with TeamsChat(service_url=fake.url, token_provider=_token, tenant_id=TENANT, timeout=2.0) as teams:
        yield teams


def test_implements_chat_port() -> None:
    chat = TeamsChat(service_url="http://127.0.0.1:9/", token_provider=None, tenant_id=None)
    assert isinstance(chat, Chat) and chat.platform == "teams"


async def test_post_card_starts_a_thread(chat: TeamsChat, fake: FakeBotConnector) -> None:
    posted = await chat.post_card(channel=CHANNEL, card=sample_card())
    (call,) = fake.calls()
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


async def test_update_and_reply_in_the_thread(chat: TeamsChat, fake: FakeBotConnector) -> None:
    posted = await chat.post_card(channel=CHANNEL, card=sample_card())
    place = CardPlace(channel=posted.channel, message_id=posted.message_id, thread_id=posted.thread_id)
    await chat.update_card(place=place, card=sample_card(status="claimed", owner_name="Fox Mulder"))
    await chat.post_reply(place=place, text="Claimed by *Fox*", mention="29:fox")
    _, put, reply = fake.calls()
    assert posted.thread_id
    assert (put.method, put.conversation, put.activity_id) == ("PUT", posted.thread_id, posted.message_id)
    assert put.path == f"/v3/conversations/{posted.thread_id}/activities/{posted.message_id}"
    assert ";" not in put.raw_path and ":" not in put.raw_path  # the id is percent-encoded in the URL
    assert "Fox Mulder" in str(put.body["attachments"][0]["content"])
    assert (reply.method, reply.path) == ("POST", f"/v3/conversations/{posted.thread_id}/activities")
    assert reply.body["text"].endswith("Claimed by \\*Fox\\*")
    assert reply.body["entities"][0]["mentioned"]["id"] == "29:fox"
    assert len(fake.activities_in(posted.thread_id)) == 3  # the card, its update, the reply


async def test_update_uses_service_url_of_the_reference(fake: FakeBotConnector) -> None:
    async with TeamsChat(service_url="http://127.0.0.1:9/", token_provider=_token, tenant_id=None) as chat:
        place = CardPlace(
            channel=CHANNEL,
            message_id="77",
            thread_id=f"{CHANNEL};messageid=77",
            conversation_ref={"serviceUrl": fake.url},
        )
        await chat.update_card(place=place, card=sample_card())
    assert fake.calls()[0].activity_id == "77"


async def test_send_direct_creates_one_to_one_conversation(chat: TeamsChat, fake: FakeBotConnector) -> None:
    await chat.send_direct(user=USER, text="HA-1001 was reassigned to you", card=sample_card())
    await chat.send_direct(user=USER, text="again")
    create, text, card, again = fake.calls()
    assert create.path == "/v3/conversations"
    assert create.body["isGroup"] is False and create.body["members"] == [{"id": USER}]
    assert create.body["tenantId"] == TENANT
    conversation = f"a:dm-{USER}"
    assert text.path == card.path == again.path == f"/v3/conversations/{conversation}/activities"
    assert text.body["text"] == "HA\\-1001 was reassigned to you" and "attachments" not in text.body
    assert "text" not in card.body and card.body["attachments"][0]["contentType"] == CONTENT_TYPE
    assert len(fake.activities_in(conversation)) == 3  # conversation created once, then reused


async def test_post_digest(chat: TeamsChat, fake: FakeBotConnector) -> None:
    items = (DigestItem("HA-1", Severity.HIGH, "NPS 3", AlertStatus.OPEN),)
    posted = await chat.post_digest(channel=CHANNEL, digest=DigestCard(title="1 hot alert", items=items))
    assert posted.extra == {"alerts": ["HA-1"]}
    assert fake.calls()[0].body["activity"]["attachments"][0]["content"]["type"] == "AdaptiveCard"
    place = CardPlace(channel=CHANNEL, message_id=posted.message_id, thread_id=posted.thread_id)
    await chat.update_digest(place=place, digest=DigestCard(title="1 hot alert", items=items, more=2))
    put = fake.calls()[1]
    assert (put.method, put.activity_id) == ("PUT", posted.message_id)
    assert "2 more" in str(put.body["attachments"][0]["content"])


async def test_429_with_retry_after_is_retryable(chat: TeamsChat, fake: FakeBotConnector) -> None:
    fake.fail_next(429, retry_after=7)
    with pytest.raises(ChatError) as info:
        await chat.post_card(channel=CHANNEL, card=sample_card())
    assert info.value.permanent is False and info.value.retry_after == 7.0
    posted = await chat.post_card(channel=CHANNEL, card=sample_card())  # the next call goes through
    assert posted.message_id


@pytest.mark.parametrize("status", [412, 502, 503, 504])
async def test_transient_statuses_are_retryable(chat: TeamsChat, fake: FakeBotConnector, status: int) -> None:
    fake.fail_next(status)
    with pytest.raises(ChatError) as info:
        await chat.post_reply(place=CardPlace(channel=CHANNEL, message_id="1"), text="hi")
    assert info.value.permanent is False and info.value.retry_after is None


@pytest.mark.parametrize("status", [400, 403, 404])
async def test_client_errors_are_permanent(chat: TeamsChat, fake: FakeBotConnector, status: int) -> None:
    fake.fail_next(status, retry_after=5)
    place = CardPlace(channel=CHANNEL, message_id="1", thread_id=f"{CHANNEL};messageid=1")
    with pytest.raises(ChatError) as info:
        await chat.update_card(place=place, card=sample_card())
    assert info.value.permanent is True and info.value.retry_after is None


async def test_missing_token_is_permanent_401(fake: FakeBotConnector) -> None:
    async with TeamsChat(service_url=fake.url, token_provider=None, tenant_id=None) as chat:
        with pytest.raises(ChatError) as info:
            await chat.post_card(channel=CHANNEL, card=sample_card())
    assert info.value.permanent is True and "401" in info.value.reason
    assert "authorization" not in fake.calls()[0].headers


async def test_timeout_is_retryable(fake: FakeBotConnector) -> None:
    fake.delay_next(0.5)
    async with TeamsChat(service_url=fake.url, token_provider=_token, tenant_id=None, timeout=0.2) as chat:
        with pytest.raises(ChatError) as info:
            await chat.post_card(channel=CHANNEL, card=sample_card())
    assert info.value.permanent is False
    assert fake.wait_for(lambda calls: len(calls) == 1, timeout=3.0)


async def test_unreachable_connector_is_retryable() -> None:
    with FakeBotConnector() as gone:
        url = gone.url
    async with TeamsChat(service_url=url, token_provider=None, tenant_id=None, timeout=1.0) as chat:
        with pytest.raises(ChatError) as info:
            await chat.post_card(channel=CHANNEL, card=sample_card())
    assert info.value.permanent is False


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past


async def test_413_is_a_content_error_the_worker_answers_with_a_smaller_card(
    chat: TeamsChat, fake: FakeBotConnector
) -> None:
    fake.reject_content(1)
    with pytest.raises(ChatError) as info:
        await chat.post_card(channel=CHANNEL, card=sample_card())
    assert info.value.content and not info.value.permanent and "413" in info.value.reason
    posted = await chat.post_card(channel=CHANNEL, card=sample_card())  # the next one passes
    assert posted.extra == {"cut": False}


async def test_the_fake_measures_activities_in_utf16_like_teams(fake: FakeBotConnector) -> None:
    """28 KB of UTF-16 bytes: 13,000 ASCII characters pass; 7,200 emoji (two UTF-16 code units each,
    28,800 bytes) do not, though they are only 7,200 Python characters."""
    async with TeamsChat(service_url=fake.url, token_provider=_token, tenant_id=None) as chat:
        place = CardPlace(channel=CHANNEL, message_id="1", thread_id=f"{CHANNEL};messageid=1")
        await chat.post_reply(place=place, text="a" * 13_000)
        with pytest.raises(ChatError) as info:
            await chat.post_reply(place=place, text="😡" * 7_200)
    assert info.value.content
    assert [c.status for c in fake.calls()] == [201, 413]
    refused = fake.calls()[1].body
    assert utf16_bytes(refused) > 28 * 1024 > len(json.dumps(refused, ensure_ascii=False))


async def test_a_huge_card_is_posted_cut_to_size_and_says_so(chat: TeamsChat, fake: FakeBotConnector) -> None:
    from dataclasses import replace

    from bot.cards import AnswerLine

    answers = tuple(AnswerLine(f"Question {i} " + "q" * 290, "v" * 300, i % 2 == 0) for i in range(60))
    card = replace(sample_card(), comment="Rude *staff* [x](y) " * 1000, answers=answers, answers_max=60)
    posted = await chat.post_card(channel=CHANNEL, card=card)
    [call] = fake.calls()
    assert call.status == 201 and utf16_bytes(call.body["activity"]) < 28 * 1024
    assert posted.extra == {"cut": True}
    assert "the full response is in this card" in json.dumps(call.body, ensure_ascii=False)
