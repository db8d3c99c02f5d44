"""End to end through the real app (uvicorn on loopback) on SQLite and PostgreSQL: a signed webhook →
an alert → after HOTLOOP_ACK_DELAY the acknowledgement arrives at a real SMTP server, in German because the
response is, with its headers and both parts; the card's thread says so; the customer unsubscribes with
one click, and their next feedback gets no second e-mail. Nothing of the customer reaches the logs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from storage.models import Alert
from tests.adapters.mail.smtpd import SmtpSink
from tests.appserver import SLACK_CHANNEL, AppServer, AppWithChats
from tests.fakes.slack_api import FakeSlackApi

DANA = {"id": "c-77", "name": "Dana Scully", "email": "dana.scully@example.com", "phone": "+1 202 555 0147"}
COMMENT = "Wir haben 40 Minuten gewartet und das Personal war unhöflich"
TEAM_MAIL = {"sender": "Acme Kundendienst <kundendienst@acme.test>", "reply_to": "antwort@acme.test"}


@pytest.fixture
async def server(app_with_chats: AppWithChats, smtpd: SmtpSink) -> AsyncIterator[AppServer]:
    async with app_with_chats(
        slack=True, default_team={"mail": TEAM_MAIL}, smtp_url=smtpd.url, mail_from="hotloop@acme.test",
        ack_delay="0s", mail_sweep_seconds=0.2, public_url="https://hotloop.acme.test",
    ) as app:
        yield app


def feedback(external_id: str) -> dict[str, object]:
    return {"id": external_id, "customer": DANA, "nps": 2, "contact_requested": True, "comment": COMMENT,
            "attributes": {"language": "de-DE"}}


async def ack_status(server: AppServer, key: str) -> str | None:
    async with server.ctx.sessions() as session:
        return (await session.execute(select(Alert.ack_status).where(Alert.key == key))).scalar_one()


async def wait_for_status(server: AppServer, key: str, wanted: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while (status := await ack_status(server, key)) != wanted:
        assert time.monotonic() < deadline, f"{key} ack_status is {status}, not {wanted}"
        await asyncio.sleep(0.1)


async def thread_line(slack: FakeSlackApi, needle: str, timeout: float = 15.0) -> None:
    """Wait (without blocking the app's event loop) for a reply in the card's thread containing `needle`."""
    deadline = time.monotonic() + timeout

    def posted() -> bool:
        replies = [m for m in slack.messages_in(SLACK_CHANNEL) if m.get("thread_ts")]
        return any(needle in m.get("text", "") for m in replies)

    while not posted():
        assert time.monotonic() < deadline, f"no thread line with {needle!r}"
        await asyncio.sleep(0.1)


def check_headers(message: EmailMessage, key: str) -> str:
    """The acknowledgement's headers; → its one-click unsubscribe URL."""
    assert message["From"] == "Acme Kundendienst <kundendienst@acme.test>"
    assert message["Reply-To"] == "antwort@acme.test" and message["To"] == DANA["email"]
    assert message["Subject"] == "Wir haben Ihr Feedback erhalten"
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@acme.test>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["X-Hotloop-Alert"] == key and message["Content-Language"] == "de"
    unsubscribe = str(message["List-Unsubscribe"])
    assert unsubscribe.startswith("<https://hotloop.acme.test/u/") and unsubscribe.endswith(">")
    return unsubscribe[1:-1]


def check_parts(message: EmailMessage, key: str) -> None:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    for body in (text.get_content(), html.get_content()):
        assert "Guten Tag Dana," in body and "Acme Kundendienst meldet sich bei Ihnen bis" in body
        assert key in body and "Abmelden" in body
        assert COMMENT not in body  # the customer's own words are not mailed back


async def test_webhook_to_acknowledgement_to_one_click_unsubscribe(
    server: AppServer, smtpd: SmtpSink, fake_slack: FakeSlackApi, capfd: pytest.CaptureFixture[str]
) -> None:
    reply = await server.post_feedback(feedback("r-1"))
    assert reply.status_code == 202, reply.text
    key = str(reply.json()["alert"])
    (got,) = await smtpd.wait_for(1)
    assert got.recipients == [DANA["email"]] and got.sender == "kundendienst@acme.test"
    url = check_headers(got.message, key)
    check_parts(got.message, key)
    await wait_for_status(server, key, "sent")
    await thread_line(fake_slack, "Acknowledged to d•••@example.com")

    path = urlsplit(url).path
    page = await server.client.get(path)
    assert page.status_code == 200 and "Keine E-Mails mehr" in page.text and 'method="post"' in page.text
    assert page.headers["cache-control"] == "no-store"
    done = await server.client.post(path, content=b"List-Unsubscribe=One-Click",
                                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200 and "Sie sind abgemeldet" in done.text
    again = await server.client.post(path, content=b"List-Unsubscribe=One-Click")
    assert again.status_code == 200  # twice is fine
    assert (await server.client.post(path[:-2] + "xx")).status_code == 404
    assert (await server.client.get("/u/not-a-token")).status_code == 404

    second = await server.post_feedback(feedback("r-2"))
    assert second.status_code == 202
    await wait_for_status(server, str(second.json()["alert"]), "skipped")
    await asyncio.sleep(0.5)
    assert len(smtpd.handler.received) == 1  # no second e-mail

    logs = "".join(capfd.readouterr())
    assert "mail.sent" in logs  # the capture works: the worker's lines are in it
    for secret in ("dana.scully", "Dana Scully", COMMENT, "202 555"):
        assert secret not in logs
