"""The loopback fake itself: encodings, tokens, ts values, views, users, waiting."""

from __future__ import annotations

import json
import threading
import urllib.request
from urllib.parse import urlencode

from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import FakeSlackApi


def post_form(fake: FakeSlackApi, method: str, fields: dict[str, str]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        fake.url + method,
        data=urlencode(fields).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, json.loads(response.read())


async def test_auth_test_and_json_bodies(slack_api: FakeSlackApi) -> None:
    client = AsyncWebClient(token=slack_api.token, base_url=slack_api.url)
    auth = await client.auth_test()
    assert auth["ok"] and auth["bot_id"]
    await client.chat_postMessage(channel="C1", text="hi", blocks=[{"type": "divider"}])
    [call] = slack_api.calls("chat.postMessage")
    assert call.args == {"channel": "C1", "text": "hi", "blocks": [{"type": "divider"}]}


def test_form_bodies_with_token_field(slack_api: FakeSlackApi) -> None:
    blocks = json.dumps([{"type": "divider"}])
    fields = {"token": slack_api.token, "channel": "C1", "text": "x", "blocks": blocks}
    status, body = post_form(slack_api, "chat.postMessage", fields)
    assert status == 200 and body["ok"] is True
    assert slack_api.calls("chat.postMessage")[0].args["blocks"] == [{"type": "divider"}]
    _, denied = post_form(slack_api, "chat.postMessage", {"channel": "C1"})
    assert denied == {"ok": False, "error": "not_authed"}


def test_ts_values_are_unique_and_increasing(slack_api: FakeSlackApi) -> None:
    slack_api.without_tiers()  # 80 posts at once in one channel: about ts values, not Slack's pace
    def post() -> None:
        for _ in range(20):
            post_form(slack_api, "chat.postMessage", {"token": slack_api.token, "channel": "C1", "text": "x"})

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    assert slack_api.wait_for(lambda: len(slack_api.calls()) == 80, timeout=10)
    for thread in threads:
        thread.join()
    stamps = [m["ts"] for m in slack_api.messages_in("C1")]
    assert len(set(stamps)) == 80
    assert sorted(stamps, key=float) == stamps


async def test_views_users_and_ephemeral(slack_api: FakeSlackApi) -> None:
    client = AsyncWebClient(token=slack_api.token, base_url=slack_api.url)
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Resolve"}, "blocks": []}
    opened = await client.views_open(trigger_id="t1", view=view)
    updated = await client.views_update(view_id=opened["view"]["id"], view=view)
    assert updated["view"]["id"] == opened["view"]["id"]
    assert (await client.views_publish(user_id="U1", view={"type": "home", "blocks": []}))["ok"]
    slack_api.add_user("U1", real_name="Fox Mulder")
    assert (await client.users_info(user="U1"))["user"]["real_name"] == "Fox Mulder"
    assert (await client.chat_postEphemeral(channel="C1", user="U1", text="only you"))["message_ts"]
    assert [c.method for c in slack_api.calls()] == [
        "views.open", "views.update", "views.publish", "users.info", "chat.postEphemeral",
    ]


def test_wait_for_times_out(slack_api: FakeSlackApi) -> None:
    assert slack_api.wait_for(lambda: False, timeout=0.1) is False


def test_unknown_method_is_404(slack_api: FakeSlackApi) -> None:
    request = urllib.request.Request(slack_api.url + "nope.nope", data=b"", method="POST")
    request.add_header("Authorization", f"Bearer {slack_api.token}")
    try:
        urllib.request.urlopen(request, timeout=5)
    except urllib.error.HTTPError as error:
        assert error.code == 404
    else:
        raise AssertionError("expected 404")
