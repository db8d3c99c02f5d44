"""A Teams click answered in place: the invoke response (or the PUT after an Action.Submit) carries the
refreshed card, and the outbox's card.update skips that place; a claim from a digest gets the full card
by direct message. The app runs without its worker (role web); the tests drive one on the same database.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from adapters.teams.connector import TeamsChat
from bot.settings import Role
from jobs.delivery import DeliveryWorker
from storage import queries
from storage.models import CardRef, Outbox
from tests.adapters.teams.activities import CHANNEL, DETRACTOR, MEGAN, execute, submit
from tests.appserver import AppServer, AppWithChats
from tests.fakes.bot_connector import FakeBotConnector

CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"


@pytest.fixture
async def server(app_with_chats: AppWithChats) -> AsyncIterator[AppServer]:
    team = {"teams_channel": CHANNEL}
    async with app_with_chats(teams=True, role=Role.WEB, default_team=team) as app:
        yield app


async def drain(server: AppServer, connector: FakeBotConnector) -> None:
    async with TeamsChat(service_url=connector.url, token_provider=None, tenant_id=None) as chat:
        chat.pace_seconds = 0.0  # type: ignore[attr-defined]
        await DeliveryWorker(server.ctx.sessions, {"teams": chat}).drain()


async def raise_alerts(server: AppServer, connector: FakeBotConnector, count: int = 1) -> list[str]:
    keys = []
    for n in range(count):
        reply = await server.post_feedback({**DETRACTOR, "id": f"r-{n}"})
        assert reply.status_code == 202, reply.text
        keys.append(str(reply.json()["alert"]))
    await drain(server, connector)
    return keys


async def place_of(server: AppServer) -> CardRef:
    async with server.ctx.sessions() as session:
        refs = list((await session.execute(select(CardRef))).scalars())
    assert refs and len({r.message_id for r in refs}) == 1
    return refs[0]


def on_card(activity: dict[str, Any], ref: CardRef) -> dict[str, Any]:
    """The click as Teams sends it from the posted card: its thread and activity id."""
    activity["replyToId"] = ref.message_id
    activity["conversation"]["id"] = ref.thread_id
    return activity


def puts_to(connector: FakeBotConnector, activity_id: str) -> list[Any]:
    return [c.body for c in connector.calls()
            if c.method == "PUT" and c.activity_id == activity_id and c.status < 300]


async def card_updates(server: AppServer) -> list[dict[str, Any]]:
    async with server.ctx.sessions() as session:
        query = select(Outbox).where(Outbox.kind == "card.update")  # type: ignore[arg-type]
        return [dict(row.payload) for row in (await session.execute(query)).scalars()]


async def test_the_invoke_answers_the_clicker_at_once_and_the_outbox_updates_the_card_for_everyone(
    server: AppServer, connector: FakeBotConnector
) -> None:
    """An invoke answer replaces the card for the clicker only (Teams' default "replace for
    interactor"): everyone else sees the change through the outbox's PUT of the same activity."""
    [key] = await raise_alerts(server, connector)
    ref = await place_of(server)
    click = on_card(execute(connector.url, "alert.claim", key), ref)
    reply = await server.client.post("/api/messages", json=click)
    body = reply.json()
    assert body["type"] == CARD and "Megan Bowen" in json.dumps(body["value"])
    assert all("answered" not in payload for payload in await card_updates(server))
    await drain(server, connector)
    [put] = puts_to(connector, ref.message_id)
    assert "Megan Bowen" in json.dumps(put)


async def test_a_submit_whose_put_fails_is_updated_by_the_outbox(
    server: AppServer, connector: FakeBotConnector
) -> None:
    [key] = await raise_alerts(server, connector)
    ref = await place_of(server)
    connector.fail_next(500)  # the bot's own PUT right after the Action.Submit
    click = on_card(submit(connector.url, "alert.claim", key), ref)
    assert (await server.client.post("/api/messages", json=click)).status_code == 200
    assert [c.status for c in connector.calls() if c.method == "PUT"] == [500]
    await drain(server, connector)
    [put] = puts_to(connector, ref.message_id)
    assert "Megan Bowen" in json.dumps(put)


async def test_a_claim_from_a_digest_answers_with_the_digest_and_dms_the_full_card(
    server: AppServer, connector: FakeBotConnector
) -> None:
    keys = await raise_alerts(server, connector, 5)
    digest = await place_of(server)
    assert digest.audience == "digest"
    reply = await server.client.post(
        "/api/messages", json=on_card(execute(connector.url, "alert.claim", keys[1]), digest)
    )
    shown = json.dumps(reply.json()["value"])
    assert reply.json()["type"] == CARD and all(k in shown for k in keys) and "Megan Bowen" in shown
    await drain(server, connector)
    [put] = puts_to(connector, digest.message_id)  # the outbox's one refresh: answers may land out of order
    assert "Megan Bowen" in json.dumps(put)
    dm = f"a:dm-{MEGAN['aadObjectId']}"
    sent = json.dumps(connector.activities_in(dm))
    assert keys[1] in sent and "Dana" in sent and "Rude staff" in sent, "the whole card, by DM"
    # its buttons work in the personal chat (no team's channel to check) and are answered in place
    personal = execute(connector.url, "alert.unclaim", keys[1])
    personal.update(replyToId="dm-card", conversation={"conversationType": "personal", "id": dm})
    personal.pop("channelData")
    answer = (await server.client.post("/api/messages", json=personal)).json()
    assert answer["type"] == CARD, answer
    assert "alert.claim" in json.dumps(answer["value"]), "unclaimed: the card offers Claim again"
    async with server.ctx.sessions() as session:
        alert = await queries.get_alert(session, key=keys[1])
    assert alert is not None and alert.owner_id is None
    # only the owner acts from a personal chat: the card there is no way around the channel check
    again = {**personal, "id": "act-again", "value": {**personal["value"], "action": {
        **personal["value"]["action"], "verb": "alert.claim"}}}
    refused = (await server.client.post("/api/messages", json=again)).json()
    assert refused["type"] == MESSAGE and "not handled in this channel" in refused["value"]
