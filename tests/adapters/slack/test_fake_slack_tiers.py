"""The fake Slack is as strict as Slack: per-method tiers, chat.postMessage's pace and Block Kit limits.

Real HTTP against the loopback fake; the tiers' clock is a test clock, so nothing here sleeps."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_limits import message_error
from tests.fakes.slack_tiers import Limit, SlackTiers


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def call(fake: FakeSlackApi, method: str, **args: Any) -> tuple[int, dict[str, Any], str | None]:
    """(HTTP status, body, Retry-After) of one JSON call."""
    token = fake.app_token if method == "apps.connections.open" else fake.token
    request = urllib.request.Request(
        fake.url + method, data=json.dumps(args).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read()), response.headers.get("Retry-After")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers.get("Retry-After")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def strict(clock: Clock) -> FakeSlackApi:  # type: ignore[misc]
    with FakeSlackApi(tiers=SlackTiers(clock=clock)) as fake:
        yield fake


def statuses(fake: FakeSlackApi, method: str) -> list[int]:
    return [c.status for c in fake.calls(method)]


def post(fake: FakeSlackApi, channel: str, **args: Any) -> int:
    return call(fake, "chat.postMessage", channel=channel, text="x", **args)[0]


def test_chat_update_is_tier_3_for_the_whole_workspace(strict: FakeSlackApi, clock: Clock) -> None:
    posted = [call(strict, "chat.postMessage", channel=f"C{i}", text="x")[1] for i in range(51)]
    for n, message in enumerate(posted[:50]):  # a minute's worth at once: the burst Slack tolerates
        update = {"channel": message["channel"], "ts": message["ts"], "text": f"u{n}"}
        assert call(strict, "chat.update", **update)[0] == 200
    status, body, retry_after = call(strict, "chat.update", channel="C50", ts=posted[50]["ts"], text="late")
    assert (status, body, retry_after) == (429, {"ok": False, "error": "ratelimited"}, "2")  # 60/50 s, ceil
    assert strict.messages_in("C50")[0]["text"] == "x", "a refused update changes nothing"
    clock.now += 1.0
    assert call(strict, "chat.update", channel="C50", ts=posted[50]["ts"], text="late")[0] == 429
    clock.now += 0.3  # 1.3 s refill 50/60 × 1.3 ≈ 1.08 tokens: exactly one more call, the refusals cost none
    assert call(strict, "chat.update", channel="C50", ts=posted[50]["ts"], text="late")[0] == 200
    assert call(strict, "chat.update", channel="C0", ts=posted[0]["ts"], text="again")[0] == 429


def test_post_message_is_one_a_second_per_channel_with_a_short_burst(
    strict: FakeSlackApi, clock: Clock
) -> None:
    assert [post(strict, "C1") for _ in range(4)] == [200] * 3 + [429]
    assert call(strict, "chat.postMessage", channel="C1", text="x")[2] == "1"
    assert post(strict, "C2") == 200, "another channel carries on"
    assert post(strict, "C1", thread_ts="1.0") == 429, "thread replies are messages in the channel too"
    assert call(strict, "chat.update", channel="C1", ts="1.0", text="u")[1]["error"] == "message_not_found"
    clock.now += 1.0
    assert call(strict, "chat.postMessage", channel="C1", text="x")[0] == 200
    assert len(strict.messages_in("C1")) == 4


def test_post_message_has_a_workspace_cap(clock: Clock) -> None:
    tiers = SlackTiers(clock=clock, post_per_workspace=Limit(per_minute=60, burst=5))
    with FakeSlackApi(tiers=tiers) as fake:
        assert [post(fake, f"C{i}") for i in range(6)] == [200] * 5 + [429]
        clock.now += 1.0
        assert post(fake, "C9") == 200


@pytest.mark.parametrize(
    ("method", "args", "per_minute"),
    [
        ("views.open", {"trigger_id": "t", "view": {"type": "modal"}}, 100),
        ("users.info", {"user": "U1"}, 100),
        ("chat.postEphemeral", {"channel": "C1", "user": "U1", "text": "x"}, 100),
        ("conversations.open", {"users": "U1"}, 50),
        ("bots.info", {"bot": "B0000BOT"}, 50),
        ("apps.connections.open", {}, 3),  # Tier 1: 1 a minute, "a small burst tolerated"
    ],
)
def test_each_method_keeps_its_tier(
    strict: FakeSlackApi, clock: Clock, method: str, args: dict[str, Any], per_minute: int
) -> None:
    strict.add_user("U1")
    for _ in range(per_minute):
        call(strict, method, **args)
    assert statuses(strict, method)[-1] != 429
    status, body, retry_after = call(strict, method, **args)
    assert (status, body["error"]) == (429, "ratelimited")
    assert retry_after is not None and int(retry_after) >= 1
    clock.now += int(retry_after)
    assert call(strict, method, **args)[0] != 429


def test_history_is_tier_1_with_small_pages_outside_the_marketplace(clock: Clock) -> None:
    for marketplace, page, calls in ((False, 15, 3), (True, 30, 50)):
        with FakeSlackApi(tiers=SlackTiers(clock=clock, marketplace=marketplace)) as fake:
            for n in range(30):
                clock.now += 1.0  # one post a second in a channel
                assert call(fake, "chat.postMessage", channel="C1", text=f"m{n}")[0] == 200
            answers = [call(fake, "conversations.history", channel="C1", limit=100) for _ in range(calls + 1)]
            assert len(answers[0][1]["messages"]) == page
            assert [a[0] for a in answers] == [200] * calls + [429]


def test_tiers_can_be_turned_off_or_sped_up(clock: Clock) -> None:
    with FakeSlackApi(tiers=False) as fake:
        assert {post(fake, "C1") for _ in range(60)} == {200}
    with FakeSlackApi() as fake:
        fake.without_tiers()
        home = {"type": "home"}
        assert {call(fake, "views.publish", user_id="U1", view=home)[0] for _ in range(120)} == {200}
    with FakeSlackApi(tiers=SlackTiers(clock=clock, speed=10)) as fake:
        for _ in range(3):
            call(fake, "chat.postMessage", channel="C1", text="x")
        assert call(fake, "chat.postMessage", channel="C1", text="x")[2] == "1"  # 0.1 s, at least 1
        clock.now += 0.1  # one Slack second
        assert call(fake, "chat.postMessage", channel="C1", text="x")[0] == 200


def test_scripted_limits_and_failures_still_come_first(strict: FakeSlackApi) -> None:
    strict.rate_limit("chat.postMessage", per_seconds=60, retry_after=7)
    assert call(strict, "chat.postMessage", channel="C1", text="x")[0] == 200
    assert call(strict, "chat.postMessage", channel="C1", text="x")[2] == "7"
    strict.fail_next(1, error="channel_not_found", method="views.open")
    _, body, _ = call(strict, "views.open", trigger_id="t", view={"type": "modal"})
    assert body["error"] == "channel_not_found"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(n: int) -> dict[str, Any]:
    return {"type": "button", "action_id": f"a{n}", "text": {"type": "plain_text", "text": "b"}}


def context(n: int) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * n}


def fields(n: int, size: int = 1) -> dict[str, Any]:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * size}] * n}


HEADER = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({"blocks": [section("s" * 3000)]}, None),
        ({"blocks": [section("s" * 3001)]}, "invalid_blocks"),
        ({"blocks": [HEADER]}, "invalid_blocks"),
        ({"blocks": [fields(10, 2000)]}, None),
        ({"blocks": [fields(11)]}, "invalid_blocks"),
        ({"blocks": [fields(1, 2001)]}, "invalid_blocks"),
        ({"blocks": [{"type": "actions", "elements": [button(n) for n in range(25)]}]}, None),
        ({"blocks": [{"type": "actions", "elements": [button(n) for n in range(26)]}]}, "invalid_blocks"),
        ({"blocks": [context(10)]}, None),
        ({"blocks": [context(11)]}, "invalid_blocks"),
        ({"text": "t" * 40_000}, None),
        ({"text": "t" * 40_001}, "msg_too_long"),
        ({"attachments": [{"color": "#f00", "blocks": [section("ok")]}]}, None),
        ({"attachments": [{"color": "#f00", "blocks": [section("s" * 3001)]}]}, "invalid_blocks"),
        ({"attachments": [{"blocks": [{"type": "divider"}] * 51}]}, "invalid_blocks"),
        ({"attachments": [{"text": "a"}] * 101}, "too_many_attachments"),
        ({"attachments": "not a list"}, "invalid_attachments"),
    ],
)
def test_block_kit_limits(args: dict[str, Any], error: str | None) -> None:
    assert message_error(args) == error


def test_blocks_in_attachments_are_refused_over_http(slack_api: FakeSlackApi) -> None:
    attachments = [{"color": "#f00", "blocks": [section("s" * 3001)]}]
    status, body, _ = call(slack_api, "chat.postMessage", channel="C1", text="t", attachments=attachments)
    assert (status, body) == (200, {"ok": False, "error": "invalid_blocks"})
    assert slack_api.messages_in("C1") == []
