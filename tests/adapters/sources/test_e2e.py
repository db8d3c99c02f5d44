"""Every platform end to end: its real webhook over HTTP → verified → alert → card at the fake Slack."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from adapters.sources import delighted, formbricks, qualtrics, surveymonkey, typeform
from bot.config.sources import add_source
from storage.models import Alert
from tests.adapters.sources import test_qualtrics as q
from tests.adapters.sources import test_surveymonkey as sm
from tests.adapters.sources.conftest import FakeApi, dumps, payload
from tests.appserver import AppServer, AppWithChats
from tests.fakes.slack_api import FakeSlackApi


@pytest.fixture
async def server(app_with_chats: AppWithChats) -> AsyncIterator[AppServer]:
    async with app_with_chats(slack=True, default_team={"slack_channel": "C0CARDS"}, source=None) as app:
        yield app


async def send(
    server: AppServer, name: str, kind: str, secret: str, body: bytes, headers: dict[str, str], **source: Any
) -> str:
    await add_source(server.ctx.sessions, server.ctx.secrets, name=name, kind=kind, secret=secret, **source)
    reply = await server.client.post(f"/webhooks/{name}", content=body, headers=headers)
    assert reply.status_code == 202, reply.text
    return str(reply.json().get("alert") or "")


async def card_for(server: AppServer, slack: FakeSlackApi, key: str | None = None) -> dict[str, Any]:
    if not key:  # fetched platforms: the alert appears once the queued fetch ran
        for _ in range(200):
            async with server.ctx.sessions() as session:
                alert = (await session.execute(select(Alert))).scalars().first()
            if alert is not None:
                key = alert.key
                break
            await asyncio.sleep(0.05)
    assert key, "no alert was raised"
    for _ in range(200):
        posts = [c.args for c in slack.calls("chat.postMessage") if key in str(c.args.get("text"))]
        if posts:
            assert posts[0]["channel"] == "C0CARDS"
            return posts[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no card for {key} reached Slack")


async def test_typeform(server: AppServer, slack: FakeSlackApi) -> None:
    data = payload("typeform_form_response.json")
    for answer in data["form_response"]["answers"]:
        if answer.get("type") == "number":
            answer["number"] = 1
    body, secret = dumps(data), "typeform-secret"
    key = await send(
        server,
        "tf",
        "typeform",
        secret,
        body,
        {"typeform-signature": typeform.sign(secret, body)},
        mapping={"nps": "readable_ref_number1"},
    )
    card = await card_for(server, slack, key)
    assert "laura@example.com" in json.dumps(card["blocks"])


async def test_formbricks_parts_update_one_alert(server: AppServer, slack: FakeSlackApi) -> None:
    import base64

    secret = "whsec_" + base64.b64encode(b"formbricks-key").decode()
    await add_source(server.ctx.sessions, server.ctx.secrets, name="fb", kind="formbricks", secret=secret)
    keys = []
    for event, comment in (("responseCreated", None), ("responseFinished", "never again, I want a refund")):
        data = payload(f"formbricks_{event}.json")
        data["data"]["data"] = {"nps": 5, **({"comment": comment} if comment else {})}
        body = dumps(data)
        ts = int(time.time())
        headers = {
            "webhook-id": f"msg-{event}",
            "webhook-timestamp": str(ts),
            "webhook-signature": formbricks.sign(secret, body, msg_id=f"msg-{event}", timestamp=ts),
        }
        reply = await server.client.post("/webhooks/fb", content=body, headers=headers)
        assert reply.status_code in (200, 202), reply.text
        keys.append(reply.json()["alert"])
    assert keys[0] == keys[1]
    async with server.ctx.sessions() as session:
        alerts = (await session.execute(select(Alert))).scalars().all()
    assert (
        len(alerts) == 1 and alerts[0].severity == "critical"
    )  # high (NPS 5) raised by the alarming comment
    await card_for(server, slack, keys[0])


async def test_delighted(server: AppServer, slack: FakeSlackApi) -> None:
    data = payload("delighted_survey_response_updated.json")
    data["event_data"]["score"] = 3
    data["event_data"]["comment"] = "The courier was rude"
    body, secret = dumps(data), "delighted-secret"
    key = await send(
        server,
        "dl",
        "delighted",
        secret,
        body,
        {"x-delighted-webhook-signature": delighted.sign(secret, body)},
    )
    card = await card_for(server, slack, key)
    assert "Charlie Gravis" in json.dumps(card["blocks"])


@pytest.mark.parametrize("topic", [q.BRAND_TOPIC, q.TOPIC])
async def test_qualtrics_fetches_the_response_then_alerts(
    server: AppServer, slack: FakeSlackApi, fake_api: FakeApi, topic: str
) -> None:
    """`BRAND_TOPIC` is what a real subscription posts: once answered 202 "ignored", nothing fetched."""
    fake_api.required_header = ("X-API-TOKEN", q.TOKEN)
    fake_api.routes[q.RESPONSE_PATH] = (200, q.API_RESPONSE)
    body = qualtrics.form_body(topic, q.MSG, q.SECRET)
    reply_key = await send(
        server,
        "qx",
        "qualtrics",
        q.SECRET,
        body,
        {"content-type": "application/x-www-form-urlencoded"},
        api_url=fake_api.url,
        api_token=q.TOKEN,
        mapping=q.MAPPING,
    )
    assert reply_key == ""  # ids only: queued, committed, answered 202
    card = await card_for(server, slack)
    assert "Waited 40 minutes" in json.dumps(card["blocks"])


async def test_surveymonkey_fetches_the_response_then_alerts(
    server: AppServer, slack: FakeSlackApi, fake_api: FakeApi
) -> None:
    fake_api.required_header = ("Authorization", f"Bearer {sm.TOKEN}")
    fake_api.routes[sm.RESPONSE_PATH] = (200, sm.RESPONSE)
    fake_api.routes[sm.SURVEY_PATH] = (200, sm.SURVEY)
    reply_key = await send(
        server,
        "smk",
        "surveymonkey",
        sm.SECRET,
        sm.BODY,
        {"sm-signature": surveymonkey.sign(sm.SECRET, sm.BODY), "content-type": "application/json"},
        api_url=fake_api.url,
        api_token=sm.TOKEN,
    )
    assert reply_key == ""
    await card_for(server, slack)


async def test_fetch_failures_are_retried_not_lost(
    server: AppServer, slack: FakeSlackApi, fake_api: FakeApi
) -> None:
    fake_api.required_header = ("X-API-TOKEN", q.TOKEN)
    fake_api.routes[q.RESPONSE_PATH] = (503, {"error": "down"})
    body = qualtrics.form_body(q.TOPIC, q.MSG, q.SECRET)
    await send(
        server,
        "qy",
        "qualtrics",
        q.SECRET,
        body,
        {"content-type": "application/x-www-form-urlencoded"},
        api_url=fake_api.url,
        api_token=q.TOKEN,
        mapping=q.MAPPING,
    )
    from storage.models import Outbox

    row = None
    for _ in range(200):  # wait until the worker has recorded its verdict on the failed fetch
        async with server.ctx.sessions() as session:
            row = (await session.execute(select(Outbox).where(Outbox.kind == "source.fetch"))).scalars().one()
        if row.last_error:
            break
        await asyncio.sleep(0.05)
    assert row is not None and q.RESPONSE_PATH in fake_api.seen
    assert row.status == "pending" and row.attempts >= 1 and "503" in (row.last_error or "")
    second = await server.client.post(
        "/webhooks/qy", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert second.status_code == 200, "a platform retry of a queued response is not queued twice"
