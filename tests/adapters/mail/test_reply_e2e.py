"""Reply from the card, end to end through the real app on SQLite and PostgreSQL: a Slack menu click →
the modal with a draft greeting the customer by first name and signed by the agent → the edited text
submitted → the e-mail at a real SMTP server on loopback, the text in the card's thread, the alert's
first contact recorded (a `contacted` event without the address). Then Log a call: a second contact,
the first contact time unchanged."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.teams.render import CONTENT_TYPE
from storage.models import Alert, AlertEvent
from tests.adapters.mail.smtpd import SmtpSink
from tests.adapters.slack.slackapp import (
    ANA,
    BEN,
    CHANNEL,
    SlackApp,
    block_actions,
    menu_choice,
    view_submission,
)
from tests.adapters.teams.activities import DETRACTOR, MEGAN, execute
from tests.appserver import AppServer, AppWithChats, serve_app, test_settings
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlackApi

TEAM_MAIL = {"sender": "Acme Support <support@acme.test>", "reply_to": "help@acme.test"}
CUSTOMER = {"name": "Dana Scully", "email": "dana.scully@example.com"}


@pytest.fixture
async def server(app_with_chats: AppWithChats, smtpd: SmtpSink) -> AsyncIterator[AppServer]:
    async with app_with_chats(
        slack=True, default_team={"mail": TEAM_MAIL}, smtp_url=smtpd.url, mail_from="hotloop@acme.test",
        ack_delay="1h", mail_sweep_seconds=0.2, public_url="https://hotloop.acme.test",
    ) as app:
        yield app


def menu_values(slack: SlackApp, key: str) -> list[str]:
    card = slack.card(key)
    assert card is not None
    return [o["value"] for o in _menu_options(card["blocks"])]


def _menu_options(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == "alert.more":
                return list(element["options"])
    return []


async def open_menu_form(slack: SlackApp, user: dict[str, Any], value: str, key: str) -> dict[str, Any]:
    before = len(slack.fake.calls("views.update"))
    ts = slack.ts_of(key)
    assert ts is not None
    reply = await slack.interact(block_actions(user, menu_choice(value), channel=CHANNEL, message_ts=ts))
    assert reply.status_code == 200
    assert await slack.wait(lambda: len(slack.fake.calls("views.update")) > before)
    view: dict[str, Any] = slack.fake.calls("views.update")[-1].args["view"]
    return view


async def contact_events(server: AppServer, key: str) -> list[AlertEvent]:
    async with server.ctx.sessions() as session:
        query = (select(AlertEvent).join(Alert, Alert.id == AlertEvent.alert_id)  # type: ignore[arg-type]
                 .where(Alert.key == key, AlertEvent.kind == "contacted").order_by(AlertEvent.id))
        return list((await session.execute(query)).scalars())


def text(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


async def test_reply_from_the_card_mails_the_customer_and_records_first_contact(
    server: AppServer, smtpd: SmtpSink, fake_slack: FakeSlackApi
) -> None:
    slack = SlackApp(server, fake_slack)
    key = await slack.new_alert(customer=CUSTOMER)
    values = menu_values(slack, key)
    assert f"alert.reply|{key}" in values and f"alert.log_call|{key}" in values

    form = await open_menu_form(slack, ANA, f"alert.reply|{key}", key)
    blocks = {b["block_id"]: b for b in form["blocks"] if "block_id" in b}
    draft = blocks["message"]["element"]["initial_value"]
    assert draft.startswith("Hello Dana,") and draft.rstrip().endswith("ana\nAcme Support")
    assert form["callback_id"] == "alert.reply" and form["submit"]["text"] == "Send"

    written = draft.replace("I am sorry", "I am sorry <b>truly</b>") + "\nP.S. we refunded you."
    reply = await slack.interact(view_submission(ANA, form, {"message": text(written)}))
    assert reply.status_code == 200

    (got,) = await smtpd.wait_for(1)
    message = got.message
    assert got.recipients == [CUSTOMER["email"]] and got.sender == "support@acme.test"
    assert message["Reply-To"] == "help@acme.test" and message["X-Hotloop-Alert"] == key
    assert message["Subject"] == f"About your feedback ({key})"
    assert message["Auto-Submitted"] is None and message["List-Unsubscribe"] is None  # a person wrote it
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    assert "P.S. we refunded you." in plain.get_content() and key in plain.get_content()
    assert "&lt;b&gt;truly&lt;/b&gt;" in html.get_content() and "<b>truly" not in html.get_content()

    assert await slack.wait(lambda: any("P.S. we refunded you." in line for line in slack.thread(key)))
    line = next(line for line in slack.thread(key) if "refunded" in line)
    assert "replied by e-mail to d•••@example.com" in line and CUSTOMER["email"] not in line

    alert = await slack.alert(key)
    assert alert.first_contact_at is not None
    (event,) = await contact_events(server, key)
    assert event.data["channel"] == "email" and event.data["first"] is True
    assert "dana" not in json.dumps(event.data).lower()

    call = await open_menu_form(slack, BEN, f"alert.log_call|{key}", key)
    assert call["callback_id"] == "alert.log_call"
    await slack.interact(view_submission(BEN, call, {"note": text("Called back, left a voicemail")}))

    async def two_contacts() -> bool:
        return len(await contact_events(server, key)) == 2

    assert await slack.until(two_contacts)
    second = (await contact_events(server, key))[1]
    assert second.data["channel"] == "phone" and second.data["first"] is False
    assert (await slack.alert(key)).first_contact_at == alert.first_contact_at  # set once
    assert await slack.wait(lambda: any("called the customer: Called back" in x for x in slack.thread(key)))


async def test_reply_is_refused_before_the_form_when_the_address_unsubscribed(
    server: AppServer, smtpd: SmtpSink, fake_slack: FakeSlackApi
) -> None:
    from bot.mail.address import address_hash
    from storage.db import transaction
    from storage.queries import mail as mail_queries

    slack = SlackApp(server, fake_slack)
    key = await slack.new_alert(customer=CUSTOMER)
    async with transaction(server.ctx.sessions) as session:
        await mail_queries.add_suppression(session, address_hash=address_hash(CUSTOMER["email"]),
                                           reason="unsubscribed", now=(await slack.alert(key)).created_at)
    view = await open_menu_form(slack, ANA, f"alert.reply|{key}", key)
    assert "takes no e-mail from us" in json.dumps(view["blocks"])
    assert (await slack.alert(key)).first_contact_at is None and not smtpd.handler.received


async def test_reply_and_log_a_call_from_a_teams_card(engine: AsyncEngine, database_url: str,
                                                      smtpd: SmtpSink) -> None:
    """The same routes from Teams' Action.Execute: the reply's text is required, then mailed."""
    settings = test_settings(database_url, teams_allow_unauthenticated=True, smtp_url=smtpd.url,
                             mail_from="Acme Support <support@acme.test>", ack_delay="1h")
    with FakeBotConnector() as fake:
        async with serve_app(settings) as server:
            await server.add_source("web")
            posted = await server.post_feedback({**DETRACTOR, "id": "t-1", "customer": CUSTOMER})
            key = str(posted.json()["alert"])
            empty = (await server.client.post("/api/messages",
                                              json=execute(fake.url, "alert.reply", key))).json()
            # no text yet: the card with the Reply form open, the draft signed by the clicker
            assert empty["type"] == CONTENT_TYPE and not smtpd.handler.received
            assert "Hello Dana," in json.dumps(empty["value"]) and MEGAN["name"] in json.dumps(empty["value"])
            sent = await server.client.post("/api/messages", json=execute(
                fake.url, "alert.reply", key, message="Hello Dana,\n\nwe refunded you.\n\nAdele"))
            assert sent.status_code == 200
            (got,) = await smtpd.wait_for(1)
            assert got.recipients == [CUSTOMER["email"]] and "we refunded you." in str(got.message)
            call = await server.client.post("/api/messages", json=execute(fake.url, "alert.log_call", key))
            assert call.status_code == 200
            events = await contact_events(server, key)
            assert [(e.data["channel"], e.data["first"], e.actor_name) for e in events] == [
                ("email", True, MEGAN["name"]), ("phone", False, MEGAN["name"])]
