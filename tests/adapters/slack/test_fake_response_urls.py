"""The fake Slack's response_urls are as strict as Slack's: 5 uses, 30 minutes, Block Kit limits, and
outside every Web API rate tier (tests/fakes/slack_response_urls.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.slack_api import FakeSlackApi

CARD = [{"type": "section", "block_id": "s", "text": {"type": "mrkdwn", "text": "Claimed by <@U0ANA>"}}]


@pytest.fixture
def posted(fake_slack: FakeSlackApi) -> Iterator[tuple[FakeSlackApi, httpx.Client, str]]:
    """The fake, a client with its bot token, and the ts of one message in C1."""
    headers = {"Authorization": f"Bearer {fake_slack.token}"}
    with httpx.Client(base_url=fake_slack.url, headers=headers) as client:
        reply = client.post("chat.postMessage", json={"channel": "C1", "text": "open"}).json()
        assert reply["ok"]
        yield fake_slack, client, str(reply["ts"])


def test_replace_original_replaces_the_message_without_a_token(
    posted: tuple[FakeSlackApi, httpx.Client, str],
) -> None:
    fake, _, ts = posted
    url = fake.response_url_for("C1", ts)
    assert url.startswith(f"{fake.url}actions/T0TEST/")
    reply = httpx.post(url, json={"replace_original": True, "text": "claimed", "blocks": CARD})
    assert (reply.status_code, reply.json()) == (200, {"ok": True})
    [message] = fake.messages_in("C1")
    assert (message["ts"], message["text"], message["blocks"]) == (ts, "claimed", CARD)
    [call] = fake.calls("response_url")
    assert call.args["replace_original"] is True and call.status == 200


def test_five_uses_then_used_url(posted: tuple[FakeSlackApi, httpx.Client, str]) -> None:
    fake, _, ts = posted
    url = fake.response_url_for("C1", ts)
    answers = [httpx.post(url, json={"replace_original": "true", "text": f"v{n}"}) for n in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [404]
    assert answers[-1].json() == {"ok": False, "error": "used_url"}
    assert fake.messages_in("C1")[0]["text"] == "v4"


def test_thirty_minutes_then_expired_url(posted: tuple[FakeSlackApi, httpx.Client, str]) -> None:
    fake, _, ts = posted
    url = fake.response_url_for("C1", ts)
    fake.response_urls.age(29 * 60)
    assert httpx.post(url, json={"replace_original": True, "text": "in time"}).status_code == 200
    fake.response_urls.age(2 * 60)
    late = httpx.post(url, json={"replace_original": True, "text": "too late"})
    assert (late.status_code, late.json()["error"]) == (404, "expired_url")
    assert fake.messages_in("C1")[0]["text"] == "in time"


def test_block_kit_limits_and_other_answers(posted: tuple[FakeSlackApi, httpx.Client, str]) -> None:
    fake, _, ts = posted
    url = fake.response_url_for("C1", ts)
    too_many = [{"type": "divider"}] * 51
    refused = httpx.post(url, json={"replace_original": True, "text": "x", "blocks": too_many})
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_blocks")
    assert httpx.post(url, json={"response_type": "in_channel", "text": "for all"}).status_code == 200
    assert [m["text"] for m in fake.messages_in("C1")] == ["open", "for all"]
    assert httpx.post(url, json={"delete_original": True}).status_code == 200
    assert [m["text"] for m in fake.messages_in("C1")] == ["for all"]
    unknown = httpx.post(f"{fake.url}actions/T0TEST/999/nope", json={"text": "x"})
    assert (unknown.status_code, unknown.json()["error"]) == (404, "invalid_url")


def test_response_urls_do_not_count_against_chat_update_tier(
    posted: tuple[FakeSlackApi, httpx.Client, str],
) -> None:
    fake, client, ts = posted
    for n in range(60):  # Tier 3: a burst of about 50, then 429 until the bucket refills
        if client.post("chat.update", json={"channel": "C1", "ts": ts, "text": f"u{n}"}).status_code == 429:
            break
    else:
        pytest.fail("chat.update was never rate-limited")
    url = fake.response_url_for("C1", ts)
    replies = [httpx.post(url, json={"replace_original": True, "text": f"r{n}"}) for n in range(5)]
    assert [r.status_code for r in replies] == [200] * 5, "a response_url is no Web API call"
    assert fake.messages_in("C1")[0]["text"] == "r4"
