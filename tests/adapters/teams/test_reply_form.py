"""Issue 14 part 3 on Teams: Reply is two steps, as Slack's modal. The Reply button's click is answered
(the invoke response, which only the clicker sees) with the card and the Reply form open, its draft
greeting the customer by first name and signed by the clicker; the form's Send mails the text through
a real SMTP server on loopback. Opening the form writes nothing and marks no place answered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from adapters.teams.card_actions import input_id
from bot.action_ids import ActionId, Arg
from storage.models import CardRef, Outbox
from tests.adapters.mail.smtpd import SmtpSink, smtp_server
from tests.adapters.teams.activities import ADELE, CHANNEL, DETRACTOR, MEGAN, execute
from tests.appserver import AppServer, AppWithChats
from tests.fakes.bot_connector import FakeBotConnector

CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"
CUSTOMER = {"name": "Dana Scully", "email": "dana.scully@example.com"}
TEAM_MAIL = {"sender": "Acme Support <support@acme.test>", "reply_to": "help@acme.test"}
FIELD = input_id(ActionId.REPLY, Arg.MESSAGE)


@pytest.fixture
def smtpd() -> Iterator[SmtpSink]:
    with smtp_server() as sink:
        yield sink


@pytest.fixture
async def server(app_with_chats: AppWithChats, smtpd: SmtpSink) -> AsyncIterator[AppServer]:
    team = {"teams_channel": CHANNEL, "mail": TEAM_MAIL}
    async with app_with_chats(teams=True, default_team=team, smtp_url=smtpd.url,
                              mail_from="hotloop@acme.test", ack_delay="1h", mail_sweep_seconds=0.2) as app:
        yield app


async def posted_card(server: AppServer) -> tuple[str, CardRef]:
    reply = await server.post_feedback({**DETRACTOR, "id": "reply-1", "customer": CUSTOMER})
    assert reply.status_code == 202, reply.text
    for _ in range(100):  # the worker posts the card
        async with server.ctx.sessions() as session:
            refs = list((await session.execute(select(CardRef))).scalars())
        if refs and refs[0].message_id:
            return str(reply.json()["alert"]), refs[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the card was never posted")


def on_card(activity: dict[str, Any], ref: CardRef, activity_id: str) -> dict[str, Any]:
    activity.update(id=activity_id, replyToId=ref.message_id)
    activity["conversation"]["id"] = ref.thread_id
    return activity


def elements(node: Any) -> list[dict[str, Any]]:
    """Every element and action of a card, ShowCards included."""
    found: list[dict[str, Any]] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found += [item] if "type" in item else []
            stack += list(item.values())
        elif isinstance(item, list):
            stack += item
    return found


async def answered_rows(server: AppServer) -> list[Any]:
    async with server.ctx.sessions() as session:
        query = select(Outbox).where(Outbox.kind == "card.update")  # type: ignore[arg-type]
        return [row.payload.get("answered") for row in (await session.execute(query)).scalars()]


async def test_reply_opens_a_prefilled_form_for_the_clicker_then_mails_the_text(
    server: AppServer, connector: FakeBotConnector, smtpd: SmtpSink
) -> None:
    key, ref = await posted_card(server)
    posted = json.dumps(connector.calls()[-1].body)
    assert '"verb": "alert.reply"' in posted and FIELD not in posted, "the posted card has no reply input"
    before = await answered_rows(server)
    clicks = [on_card(execute(connector.url, "alert.reply", key, user=user), ref, f"open-{n}")
              for n, user in enumerate((MEGAN, ADELE))]
    answers = [(await server.client.post("/api/messages", json=click)).json() for click in clicks]
    drafts = []
    for answer in answers:
        assert answer["type"] == CARD, answer
        [field] = [e for e in elements(answer["value"]) if e.get("id") == FIELD]
        drafts.append(field["value"])
        ids = [e["id"] for e in elements(answer["value"]) if "id" in e and e["type"].startswith("Input.")]
        assert len(ids) == len(set(ids)), "input ids stay unique with the form open"
        sends = [e for e in elements(answer["value"])
                 if e.get("verb") == "alert.reply" and e.get("title") == "Send"]
        assert sends and sends[0]["type"] == "Action.Execute"
    assert drafts[0].startswith("Hello Dana,") and "Megan Bowen" in drafts[0] and "Adele" not in drafts[0]
    assert "Adele Vance" in drafts[1], "each clicker signs their own draft"
    assert await answered_rows(server) == before, "opening the form marks no place answered"
    assert not smtpd.handler.received
    text = drafts[0].replace("I am sorry about your experience.", "we refunded you.")
    send = on_card(execute(connector.url, "alert.reply", key, **{FIELD: text}), ref, "send-1")
    sent = (await server.client.post("/api/messages", json=send)).json()
    assert sent["type"] == CARD and FIELD not in json.dumps(sent["value"]), "answered with the card again"
    (got,) = await smtpd.wait_for(1)
    assert got.recipients == [CUSTOMER["email"]] and "we refunded you." in str(got.message)


async def test_reply_without_mail_is_refused_before_any_form(
    app_with_chats: AppWithChats, connector: FakeBotConnector
) -> None:
    async with app_with_chats(teams=True, default_team={"teams_channel": CHANNEL}) as app:
        key, ref = await posted_card(app)
        click = on_card(execute(connector.url, "alert.reply", key), ref, "open-no-mail")
        answer = (await app.client.post("/api/messages", json=click)).json()
    assert answer["type"] == MESSAGE and "E-mail is not set up" in answer["value"]
