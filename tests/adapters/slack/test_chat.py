"""SlackChat against the loopback fake Slack Web API: real HTTP, real slack_sdk client, no mocks.

What every chat does (post, update, reply, direct messages, digests, rate limits, refusals, timeouts) is
the contract suite's, run on Slack and Teams alike: tests/chat/test_chat_port_contract.py. Here: what
only Slack has — its per-channel rate limit, unfurling, labelled posts found again, verbatim replies,
burst digests and a fake as strict as Slack."""

from __future__ import annotations

import pytest

from adapters.slack.chat import SlackChat
from adapters.slack.render import digest_message
from bot.cards.model import DigestCard, DigestItem
from bot.chat.port import CardPlace, ChatError
from bot.domain import AlertStatus, Severity
from tests import REPO_ROOT
from tests.factories import sample_card
from tests.fakes.slack_api import FakeSlackApi

CHANNEL = "C0123456"


async def test_a_card_is_posted_without_link_unfurling(
    slack_chat: SlackChat, fake_slack: FakeSlackApi
) -> None:
    await slack_chat.post_card(channel=CHANNEL, card=sample_card())
    [call] = fake_slack.calls("chat.postMessage")
    assert call.args["unfurl_links"] is False and call.args["unfurl_media"] is False


async def test_a_burst_digest_names_the_alerts_it_shows_and_counts_the_rest(
    slack_chat: SlackChat, fake_slack: FakeSlackApi
) -> None:
    items = tuple(DigestItem(f"HA-{i}", Severity.HIGH, "s", AlertStatus.OPEN) for i in range(260))
    digest = DigestCard(title="Burst", items=items, fallback_text="260 hot alerts")
    posted = await slack_chat.post_digest(channel=CHANNEL, digest=digest)
    [message] = fake_slack.messages_in(CHANNEL)
    assert message["blocks"] == digest_message(digest)["blocks"] and message["text"] == "260 hot alerts"
    # five per section with their Claim buttons under them: 24 groups of 2 blocks beside the header
    assert posted.extra["alert_keys"] == [f"HA-{i}" for i in range(120)]
    assert posted.extra["more"] == 140


async def test_rate_limit_gives_retry_after(slack_chat: SlackChat, fake_slack: FakeSlackApi) -> None:
    fake_slack.rate_limit("chat.postMessage", per_seconds=60, retry_after=7)
    await slack_chat.post_card(channel=CHANNEL, card=sample_card())
    await slack_chat.post_card(channel="C0OTHER", card=sample_card())  # the limit is per channel
    with pytest.raises(ChatError) as caught:
        await slack_chat.post_card(channel=CHANNEL, card=sample_card())
    assert caught.value.retry_after == 7.0
    assert caught.value.reason == "ratelimited" and not caught.value.permanent
    assert [c.status for c in fake_slack.calls("chat.postMessage")] == [200, 200, 429]  # no retry in place


async def test_missing_message_on_update_is_permanent(slack_chat: SlackChat) -> None:
    with pytest.raises(ChatError) as caught:
        await slack_chat.update_card(place=CardPlace(CHANNEL, "123.456"), card=sample_card())
    assert caught.value.permanent and caught.value.reason == "message_not_found"


async def test_labelled_posts_are_found_again_through_conversations_history(
    slack_chat: SlackChat, fake_slack: FakeSlackApi
) -> None:
    from datetime import UTC, datetime, timedelta

    fake_slack.without_tiers()  # 43 posts and 2 lookups in a second: about finding posts, not pace
    since = datetime.now(UTC) - timedelta(minutes=1)
    await slack_chat.post_card(channel=CHANNEL, card=sample_card())  # not labelled: never adopted
    card = await slack_chat.post_card_labelled(channel=CHANNEL, card=sample_card(), rows=[41])
    digest = DigestCard("d", (DigestItem("HA-1", Severity.HIGH, "s", AlertStatus.OPEN),))
    burst = await slack_chat.post_digest_labelled(channel=CHANNEL, digest=digest, rows=[42, 43])
    for n in range(20):  # newer messages push the labelled ones to a later page
        thread = CardPlace(CHANNEL, card.message_id, card.thread_id)
        await slack_chat.post_reply(place=thread, text=f"line {n}")
        await slack_chat.post_card(channel=CHANNEL, card=sample_card())
    stored = [m for m in fake_slack.messages_in(CHANNEL) if m["ts"] == card.message_id]
    assert stored[0]["metadata"]["event_payload"] == {"outbox_id": 41, "outbox_ids": "41"}
    found = await slack_chat.find_posted(channel=CHANNEL, rows=[41, 43, 44], since=since)
    assert {row: p.message_id for row, p in found.items()} == {41: card.message_id, 43: burst.message_id}
    calls = fake_slack.calls("conversations.history")
    assert len(calls) == 2 and all(c.args["limit"] == "15" for c in calls)  # two small pages
    tomorrow = datetime.now(UTC) + timedelta(1)
    assert await slack_chat.find_posted(channel=CHANNEL, rows=[41], since=tomorrow) == {}


async def test_thread_replies_are_verbatim_sections(slack_chat: SlackChat, fake_slack: FakeSlackApi) -> None:
    place = CardPlace(CHANNEL, "1.000001", "1.000001")
    await slack_chat.post_reply(place=place, text="call https://evil.example or @here", mention="U0ABCDEF")
    [reply] = fake_slack.messages_in(CHANNEL)
    [section] = reply["blocks"]
    assert section["text"] == {
        "type": "mrkdwn", "text": "<@U0ABCDEF> call https://evil.example or @here", "verbatim": True
    }


async def test_the_fake_refuses_what_slack_refuses(slack_chat: SlackChat, fake_slack: FakeSlackApi) -> None:
    """The fake is as strict as Slack: a broken Block Kit limit is `invalid_blocks`, not a pass."""
    fake_slack.without_tiers()  # seven refused posts in a row: about content, not pace
    too_many = [{"type": "divider"} for _ in range(51)]
    long_header = [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]
    same_ids = [{"type": "divider", "block_id": "x"}, {"type": "divider", "block_id": "x"}]
    section = [{"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}}]
    button = {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "b" * 76}}
    actions = [{"type": "actions", "elements": [button]}]
    for blocks in (too_many, long_header, same_ids, section, actions):
        with pytest.raises(ChatError) as caught:
            await slack_chat._post(channel=CHANNEL, text="t", blocks=blocks)
        assert caught.value.reason == "invalid_blocks" and caught.value.content
    with pytest.raises(ChatError) as caught:
        await slack_chat._post(channel=CHANNEL, text="t" * 40_001)
    assert caught.value.reason == "msg_too_long"
    assert fake_slack.messages_in(CHANNEL) == []


def test_the_manifest_grants_what_find_posted_needs() -> None:

    import yaml

    manifest = yaml.safe_load((REPO_ROOT / "manifest" / "slack.yaml").read_text())
    assert {"channels:history", "groups:history"} <= set(manifest["oauth_config"]["scopes"]["bot"])
