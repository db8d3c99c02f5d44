"""Issue 14 §4 and §8 end to end through the real app (uvicorn on loopback), SQLite and PostgreSQL: a signed
webhook → an alert on a Slack and a Teams card → claimed and resolved with a follow-up through the action
table → after HOTLOOP_FOLLOW_UP_DELAY (0 s) "did we resolve your issue?" arrives at a real SMTP server →
its "no" link opens the page → the customer answers no, score 3, with the security suite's injection
corpus as the comment → the alert is reopened with their words, the owner is mentioned in the thread,
both cards are updated; the thank-you page and the thread lines show the words inert; the link is used."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from bot.action_ids import ActionId, Arg
from bot.actions.table import ActionRequest, handle
from bot.alerts.lifecycle import Actor
from bot.domain import utcnow
from storage.models import Alert, AlertEvent, FollowUp
from tests.adapters.mail.smtpd import SmtpSink
from tests.appserver import SLACK_CHANNEL, AppServer, AppWithChats
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlackApi
from tests.security.test_injection import SLACK_TOKENS, TEAMS_LIVE, TEXT, masked

TEAMS_CHANNEL = "19:followupcards0123456789@thread.tacv2"
ANA = Actor(id="U0ANA", name="Ana", platform="slack")
DANA = {"id": "c-78", "name": "Dana Scully", "email": "dana.scully@example.com"}
TEAM_MAIL = {"sender": "Acme Support <support@acme.test>", "ack": "off"}


@pytest.fixture
async def server(app_with_chats: AppWithChats, smtpd: SmtpSink) -> AsyncIterator[AppServer]:
    team = {"mail": TEAM_MAIL, "teams_channel": TEAMS_CHANNEL}
    async with app_with_chats(
        slack=True, teams=True, default_team=team, smtp_url=smtpd.url, mail_from="hotloop@acme.test",
        follow_up_delay="0s", mail_sweep_seconds=0.2, public_url="https://hotloop.acme.test",
    ) as app:
        yield app


async def until(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def act(server: AppServer, action: ActionId, key: str, **args: str) -> None:
    request = ActionRequest(action=action, alert_key=key, actor=ANA, args=args)
    config = await server.ctx.config.get()
    reply = await handle(request, sessions=server.ctx.sessions, config=config, now=utcnow())
    assert reply.ok, reply.message
    server.ctx.signal.notify()


def links(message: EmailMessage) -> tuple[str, str]:
    """The e-mail's (yes, no) page paths, from its text part, checked against its HTML part."""
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    pattern = r"https://hotloop\.acme\.test(/f/[A-Za-z0-9._-]+(?:\?resolved=no)?)"
    found = re.findall(pattern, text.get_content())
    yes, no = found
    assert no == f"{yes}?resolved=no" and f'href="https://hotloop.acme.test{yes}"' in html.get_content()
    return yes, no


async def alert_row(server: AppServer, key: str) -> Alert:
    async with server.ctx.sessions() as session:
        return (await session.execute(select(Alert).where(Alert.key == key))).scalar_one()  # type: ignore[arg-type]


def slack_updates(slack: FakeSlackApi, key: str) -> int:
    return sum(1 for c in slack.calls("chat.update") if key in json.dumps(c.args))


def teams_card_puts(teams: FakeBotConnector) -> int:
    return sum(1 for c in teams.calls() if c.method == "PUT" and c.status < 300)


def teams_texts(teams: FakeBotConnector, needle: str) -> list[str]:
    return [str(c.body.get("text", "")) for c in teams.calls()
            if isinstance(c.body, dict) and needle in str(c.body.get("text", ""))]


async def resolve_and_get_mail(server: AppServer, smtpd: SmtpSink, slack: FakeSlackApi,
                               teams: FakeBotConnector) -> tuple[str, EmailMessage]:
    reply = await server.post_feedback({"id": "r-f1", "customer": DANA, "nps": 3, "comment": "cold food"})
    assert reply.status_code == 202, reply.text
    key = str(reply.json()["alert"])
    await until(lambda: any(key in json.dumps(m) for m in slack.messages_in(SLACK_CHANNEL)), "the Slack card")
    await until(lambda: any((c.conversation or "").startswith(TEAMS_CHANNEL) for c in teams.calls()),
                "the Teams card")
    await act(server, ActionId.CLAIM, key)
    await act(server, ActionId.RESOLVE, key, **{Arg.OUTCOME: "recovered", Arg.FOLLOW_UP: "true"})
    (got,) = await smtpd.wait_for(1)
    assert got.recipients == [DANA["email"]] and got.message["Subject"] == "Did we resolve your issue?"
    assert got.message["X-Hotloop-Alert"] == key and got.message["Auto-Submitted"] == "auto-generated"
    return key, got.message


async def test_no_from_the_follow_up_page_reopens_the_alert_and_updates_both_cards(
    server: AppServer, smtpd: SmtpSink, fake_slack: FakeSlackApi, fake_teams: FakeBotConnector
) -> None:
    key, message = await resolve_and_get_mail(server, smtpd, fake_slack, fake_teams)
    yes, no = links(message)
    page = await server.client.get(no)
    assert page.status_code == 200 and '<html lang="en">' in page.text
    assert 'value="no" required checked' in page.text and "<legend>" in page.text
    assert "<script" not in page.text
    assert key not in page.text and "Dana" not in page.text and "cold food" not in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    await until(lambda: teams_card_puts(fake_teams) > 0 and slack_updates(fake_slack, key) > 0,
                "the resolved cards")
    await asyncio.sleep(0.5)  # the resolve's card updates are out
    slack_before, teams_before = slack_updates(fake_slack, key), teams_card_puts(fake_teams)

    answer = {"resolved": "no", "score": "3", "comment": TEXT, "csrf": csrf.group(1)}
    done = await server.client.post(yes, data=answer)
    assert done.status_code == 200, done.text
    assert "Thank you for your answer" in done.text and "3 / 10" in done.text
    assert "&lt;script&gt;" in done.text and "&lt;!channel&gt;" in done.text  # the words are shown…
    for live in ("<script>", "<b>html</b>", "<at>", "<!channel>", "<https://evil"):
        assert live not in done.text  # …inert
    assert key not in done.text

    alert = await alert_row(server, key)
    assert alert.status == "claimed" and alert.owner_id == ANA.id and alert.follow_up_status == "reopened"
    async with server.ctx.sessions() as session:
        events = list((await session.execute(select(AlertEvent).where(
            AlertEvent.alert_id == alert.id, AlertEvent.kind == "reopened_by_customer")))  # type: ignore[arg-type]
            .scalars())
        row = (await session.execute(select(FollowUp))).scalar_one()
    assert len(events) == 1 and events[0].data["score"] == 3 and "<!channel>" in events[0].data["comment"]
    assert row.answered_at is not None and row.resolved is False and row.sent_at is not None

    def slack_line() -> list[str]:
        return [m.get("text", "") for m in fake_slack.messages_in(SLACK_CHANNEL)
                if m.get("thread_ts") and "Reopened by the customer" in m.get("text", "")]

    await until(lambda: bool(slack_line()), "the Slack thread line")
    await until(lambda: bool(teams_texts(fake_teams, "Reopened by the customer")), "the Teams thread line")
    await until(lambda: slack_updates(fake_slack, key) > slack_before, "the Slack card update")
    await until(lambda: teams_card_puts(fake_teams) > teams_before, "the Teams card update")
    (line,) = slack_line()
    assert f"<@{ANA.id}>" in line and "score 3/10" in line and "&lt;!channel&gt;" in line
    customer_part = line.replace(f"<@{ANA.id}>", "")
    assert not [t for t in SLACK_TOKENS if t in customer_part], line
    for text in teams_texts(fake_teams, "Reopened by the customer"):
        customer_words = text.split("Reopened by the customer", 1)[1]  # after the adapter's own mention
        assert "\\<at\\>" in customer_words
        assert not [bad for bad in TEAMS_LIVE if bad in masked(customer_words)], text

    again = await server.client.post(yes, data=answer)
    assert again.status_code == 410 and key not in again.text
    assert (await server.client.get(no)).status_code == 410


async def test_yes_confirms_the_recovery_and_the_alert_stays_resolved(
    server: AppServer, smtpd: SmtpSink, fake_slack: FakeSlackApi, fake_teams: FakeBotConnector
) -> None:
    key, message = await resolve_and_get_mail(server, smtpd, fake_slack, fake_teams)
    yes, _ = links(message)
    page = await server.client.get(yes)
    assert 'value="yes" required checked' in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    forged = await server.client.post(yes, data={"resolved": "yes", "csrf": "1.forged"})
    assert forged.status_code == 403
    done = await server.client.post(yes, data={"resolved": "yes", "score": "", "comment": "",
                                               "csrf": csrf.group(1)})
    assert done.status_code == 200 and "Yes, it is resolved" in done.text
    alert = await alert_row(server, key)
    assert alert.status == "resolved" and alert.follow_up_status == "confirmed"
    await until(lambda: any("The customer confirmed it is resolved" in m.get("text", "")
                            for m in fake_slack.messages_in(SLACK_CHANNEL)), "the confirmation line")
    assert urlsplit(yes).path.startswith("/f/f1.en.")
