"""SlackChat against the loopback fake Slack Web API: real HTTP, real slack_sdk client, no mocks."""

from __future__ import annotations

import socket

import pytest

from adapters.slack.chat import SlackChat
from adapters.slack.render import card_message, digest_message
from bot.cards import DigestCard, DigestItem
from bot.chat import CardPlace, Chat, ChatError
from bot.domain import AlertStatus, Severity
from tests.factories import sample_card
from tests.fakes.slack_api import FakeSlackApi

CHANNEL = "C0123456"


def test_implements_the_chat_port(chat: SlackChat) -> None:
    assert isinstance(chat, Chat)
    assert chat.platform == "slack"


async def test_post_card(chat: SlackChat, slack_api: FakeSlackApi) -> None:
    card = sample_card()
    posted = await chat.post_card(channel=CHANNEL, card=card)
    [call] = slack_api.calls("chat.postMessage")
    assert posted.channel == CHANNEL
    assert posted.message_id == posted.thread_id == slack_api.messages_in(CHANNEL)[0]["ts"]
    expected = card_message(card)
    assert call.args["channel"] == CHANNEL
    assert call.args["text"] == expected["text"]
    assert call.args["blocks"] == expected["blocks"]
    assert call.args["unfurl_links"] is False


async def test_update_card(chat: SlackChat, slack_api: FakeSlackApi) -> None:
    posted = await chat.post_card(channel=CHANNEL, card=sample_card())
    claimed = sample_card(status="claimed", owner_name="Fox Mulder", version=2)
    place = CardPlace(channel=posted.channel, message_id=posted.message_id, thread_id=posted.thread_id)
    await chat.update_card(place=place, card=claimed)
    [call] = slack_api.calls("chat.update")
    assert call.args["ts"] == posted.message_id and call.args["channel"] == CHANNEL
    [message] = slack_api.messages_in(CHANNEL)
    assert message["blocks"] == card_message(claimed)["blocks"]
    assert message["text"] == card_message(claimed)["text"]


async def test_post_reply_in_thread_with_mention(chat: SlackChat, slack_api: FakeSlackApi) -> None:
    posted = await chat.post_card(channel=CHANNEL, card=sample_card())
    place = CardPlace(channel=CHANNEL, message_id=posted.message_id, thread_id=posted.thread_id)
    await chat.post_reply(place=place, text="Escalated <to> managers", mention="channel")
    await chat.post_reply(place=place, text="Yours now", mention="U0ABCDEF")
    replies = slack_api.calls("chat.postMessage")[1:]
    assert [c.args["thread_ts"] for c in replies] == [posted.message_id] * 2
    assert replies[0].args["text"] == "<!channel> Escalated &lt;to&gt; managers"
    assert replies[1].args["text"] == "<@U0ABCDEF> Yours now"


async def test_send_direct_opens_a_dm(chat: SlackChat, slack_api: FakeSlackApi) -> None:
    await chat.send_direct(user="U0ABCDEF", text="HA-1001 was reassigned to you")
    [opened] = slack_api.calls("conversations.open")
    assert opened.args["users"] == "U0ABCDEF"
    [post] = slack_api.calls("chat.postMessage")
    assert post.args["channel"] == "D0ABCDEF"
    assert post.args["text"] == "HA-1001 was reassigned to you"


async def test_send_direct_with_card(chat: SlackChat, slack_api: FakeSlackApi) -> None:
    card = sample_card()
    await chat.send_direct(user="U0ABCDEF", text="SLA breach on <your> alert", card=card)
    [message] = slack_api.messages_in("D0ABCDEF")
    assert message["text"] == "SLA breach on &lt;your&gt; alert"
    assert message["blocks"][0]["text"]["text"] == "SLA breach on &lt;your&gt; alert"
    assert message["blocks"][1:] == card_message(card)["blocks"]


async def test_post_and_update_digest(chat: SlackChat, slack_api: FakeSlackApi) -> None:
    items = tuple(DigestItem(f"HA-{i}", Severity.HIGH, "s", AlertStatus.OPEN) for i in range(260))
    digest = DigestCard(title="Burst", items=items, fallback_text="260 hot alerts")
    posted = await chat.post_digest(channel=CHANNEL, digest=digest)
    [call] = slack_api.calls("chat.postMessage")
    assert call.args["blocks"] == digest_message(digest)["blocks"]
    assert call.args["text"] == "260 hot alerts"
    assert posted.extra["alert_keys"] == [f"HA-{i}" for i in range(240)]  # ten per section, 24 sections
    assert posted.extra["more"] == 20
    fewer = DigestCard(title="Burst", items=items[:2])
    await chat.update_digest(place=CardPlace(CHANNEL, posted.message_id), digest=fewer)
    assert slack_api.messages_in(CHANNEL)[0]["blocks"] == digest_message(fewer)["blocks"]


async def test_rate_limit_gives_retry_after(chat: SlackChat, slack_api: FakeSlackApi) -> None:
    slack_api.rate_limit("chat.postMessage", per_seconds=60, retry_after=7)
    await chat.post_card(channel=CHANNEL, card=sample_card())
    await chat.post_card(channel="C0OTHER", card=sample_card())  # the limit is per channel
    with pytest.raises(ChatError) as caught:
        await chat.post_card(channel=CHANNEL, card=sample_card())
    assert caught.value.retry_after == 7.0
    assert caught.value.reason == "ratelimited" and not caught.value.permanent
    assert [c.status for c in slack_api.calls("chat.postMessage")] == [200, 200, 429]  # no retry in place


async def test_injected_429_header(chat: SlackChat, slack_api: FakeSlackApi) -> None:
    slack_api.fail_next(status=429, retry_after=3)
    with pytest.raises(ChatError) as caught:
        await chat.update_card(place=CardPlace(CHANNEL, "1.000001"), card=sample_card())
    assert caught.value.retry_after == 3.0


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "is_archived"])
async def test_permanent_errors(chat: SlackChat, slack_api: FakeSlackApi, error: str) -> None:
    slack_api.fail_next(error=error)
    with pytest.raises(ChatError) as caught:
        await chat.post_card(channel=CHANNEL, card=sample_card())
    assert caught.value.permanent and caught.value.reason == error
    assert caught.value.retry_after is None
    assert caught.value.unsent, "Slack refused: nothing was posted"


@pytest.mark.parametrize("error", ["invalid_blocks", "invalid_blocks_format", "msg_too_long"])
async def test_content_errors_ask_for_a_smaller_message(
    chat: SlackChat, slack_api: FakeSlackApi, error: str
) -> None:
    slack_api.reject_content(error=error)
    with pytest.raises(ChatError) as caught:
        await chat.post_card(channel=CHANNEL, card=sample_card())
    assert caught.value.content and not caught.value.permanent and caught.value.reason == error
    assert caught.value.unsent and slack_api.messages_in(CHANNEL) == []


async def test_bad_token_is_permanent(slack_api: FakeSlackApi) -> None:
    chat = SlackChat("xoxb-wrong", base_url=slack_api.url)
    with pytest.raises(ChatError) as caught:
        await chat.post_card(channel=CHANNEL, card=sample_card())
    assert caught.value.permanent and caught.value.reason == "invalid_auth"


async def test_missing_message_on_update_is_permanent(chat: SlackChat) -> None:
    with pytest.raises(ChatError) as caught:
        await chat.update_card(place=CardPlace(CHANNEL, "123.456"), card=sample_card())
    assert caught.value.permanent and caught.value.reason == "message_not_found"


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_retryable(chat: SlackChat, slack_api: FakeSlackApi, status: int) -> None:
    slack_api.fail_next(status=status)
    with pytest.raises(ChatError) as caught:
        await chat.post_card(channel=CHANNEL, card=sample_card())
    assert not caught.value.permanent and caught.value.retry_after is None
    assert len(slack_api.calls("chat.postMessage")) == 1  # slack_sdk did not retry
    await chat.post_card(channel=CHANNEL, card=sample_card())  # the next attempt goes through


async def test_timeout_is_retryable(slack_api: FakeSlackApi) -> None:
    chat = SlackChat(slack_api.token, base_url=slack_api.url, timeout=0.3)
    slack_api.fail_next(delay=3.0)
    with pytest.raises(ChatError) as caught:
        await chat.post_card(channel=CHANNEL, card=sample_card())
    assert caught.value.reason == "timeout" and not caught.value.permanent


async def test_connection_refused_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    chat = SlackChat("xoxb-x", base_url=f"http://127.0.0.1:{port}/", timeout=2)
    with pytest.raises(ChatError) as caught:
        await chat.send_direct(user="U1", text="hi")
    assert caught.value.reason == "connection_error" and not caught.value.permanent


async def test_labelled_posts_are_found_again_through_conversations_history(
    chat: SlackChat, slack_api: FakeSlackApi
) -> None:
    from datetime import UTC, datetime, timedelta

    since = datetime.now(UTC) - timedelta(minutes=1)
    await chat.post_card(channel=CHANNEL, card=sample_card())  # not labelled: never adopted
    card = await chat.post_card_labelled(channel=CHANNEL, card=sample_card(), rows=[41])
    digest = DigestCard("d", (DigestItem("HA-1", Severity.HIGH, "s", AlertStatus.OPEN),))
    burst = await chat.post_digest_labelled(channel=CHANNEL, digest=digest, rows=[42, 43])
    for n in range(20):  # newer messages push the labelled ones to a later page
        await chat.post_reply(place=CardPlace(CHANNEL, card.message_id, card.thread_id), text=f"line {n}")
        await chat.post_card(channel=CHANNEL, card=sample_card())
    stored = [m for m in slack_api.messages_in(CHANNEL) if m["ts"] == card.message_id]
    assert stored[0]["metadata"]["event_payload"] == {"outbox_id": 41, "outbox_ids": "41"}
    found = await chat.find_posted(channel=CHANNEL, rows=[41, 43, 44], since=since)
    assert {row: p.message_id for row, p in found.items()} == {41: card.message_id, 43: burst.message_id}
    calls = slack_api.calls("conversations.history")
    assert len(calls) == 2 and all(c.args["limit"] == "15" for c in calls)  # two small pages
    assert await chat.find_posted(channel=CHANNEL, rows=[41], since=datetime.now(UTC) + timedelta(1)) == {}


async def test_thread_replies_are_verbatim_sections(chat: SlackChat, slack_api: FakeSlackApi) -> None:
    place = CardPlace(CHANNEL, "1.000001", "1.000001")
    await chat.post_reply(place=place, text="call https://evil.example or @here", mention="U0ABCDEF")
    [reply] = slack_api.messages_in(CHANNEL)
    [section] = reply["blocks"]
    assert section["text"] == {
        "type": "mrkdwn", "text": "<@U0ABCDEF> call https://evil.example or @here", "verbatim": True
    }


async def test_the_fake_refuses_what_slack_refuses(chat: SlackChat, slack_api: FakeSlackApi) -> None:
    """The fake is as strict as Slack: a broken Block Kit limit is `invalid_blocks`, not a pass."""
    too_many = [{"type": "divider"} for _ in range(51)]
    long_header = [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]
    same_ids = [{"type": "divider", "block_id": "x"}, {"type": "divider", "block_id": "x"}]
    section = [{"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}}]
    button = {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "b" * 76}}
    actions = [{"type": "actions", "elements": [button]}]
    for blocks in (too_many, long_header, same_ids, section, actions):
        with pytest.raises(ChatError) as caught:
            await chat._post(channel=CHANNEL, text="t", blocks=blocks)
        assert caught.value.reason == "invalid_blocks" and caught.value.content
    with pytest.raises(ChatError) as caught:
        await chat._post(channel=CHANNEL, text="t" * 40_001)
    assert caught.value.reason == "msg_too_long"
    assert slack_api.messages_in(CHANNEL) == []


def test_the_manifest_grants_what_find_posted_needs() -> None:
    from pathlib import Path

    import yaml

    manifest = yaml.safe_load((Path(__file__).parents[2] / "manifest" / "slack.yaml").read_text())
    assert {"channels:history", "groups:history"} <= set(manifest["oauth_config"]["scopes"]["bot"])
