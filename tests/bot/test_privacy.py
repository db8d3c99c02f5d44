"""A customer's personal data (bot/privacy) on a real database (SQLite and PostgreSQL): erasure removes
every stored trace and re-renders the posted Slack card as "[erased]", export shows what is held,
retention redacts details but keeps the figures, `/hotloop erase` is for admins only, and no log line
or audit event carries the customer's details."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, col

from adapters.slack.chat import SlackChat
from bot.actions.table import ActionId, ActionRequest, handle
from bot.alerts.lifecycle import Actor
from bot.commands.table import run_command
from bot.context import Context
from bot.domain import utcnow
from bot.mail.ack import sweep_acks
from bot.mail.address import address_hash
from bot.mail.kit import MailKit
from bot.privacy.erase import ERASED_EVENT, PrivacyError, erase_customer
from bot.privacy.export import EXPORTED_EVENT, export_customer
from bot.privacy.retention import REDACTED_EVENT, redact_expired
from bot.settings import build_settings
from jobs.delivery import DeliveryWorker
from jobs.retention import run_retention
from storage.db import SessionFactory, transaction
from storage.models import Alert, AlertEvent, Feedback, FollowUp, MailSuppression, Outbox
from tests.adapters.teams.activities import CHANNEL as TEAMS_CHANNEL
from tests.appserver import TEST_SECRET_KEY, AppWithChats
from tests.bot.commands.test_commands import ADMIN, USER, open_context
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlackApi
from tests.helpers import prepared_config, raise_alert

DANA = {"name": "Dana Scully", "email": "Dana@Example.com", "phone": "+1 202 555 0143", "id": "cust-77"}
FOX = {"name": "Fox Mulder", "email": "fox@example.com"}
ANSWERS = [
    {"question": "How likely are you to recommend us?", "value": 2, "scale_min": 0, "scale_max": 10,
     "kind": "nps"},
    {"question": "Were you served quickly?", "value": False},
    {"question": "Anything else?", "value": "ask for Dana at the desk", "kind": "text"},
]
DANA_TRACES = ("dana", "scully", "555 0143", "cust-77", "at the desk", "rude staff")
ANA = Actor("U0ANA", "Ana", "slack")
CLI = Actor("privacy-officer", "privacy-officer", "cli")


def mail_kit() -> MailKit:
    return MailKit.from_settings(build_settings(
        mode="test", secret_key=TEST_SECRET_KEY, smtp_url="smtp://127.0.0.1:1", ack_delay="0s",
        mail_from="Acme Support <support@acme.test>", public_url="https://hotloop.acme.test"))


def worker_for(sessions: SessionFactory, slack: FakeSlackApi) -> DeliveryWorker:
    chat = SlackChat(slack.token, base_url=slack.url, timeout=1.0)
    chat.pace_seconds = 0.0
    return DeliveryWorker(sessions, {"slack": chat})


async def dana_alert(sessions: SessionFactory, *, slack_channel: str | None = None) -> str:
    config = await prepared_config(sessions, slack_channel=slack_channel)
    key = await raise_alert(sessions, config, customer=DANA, contact_requested=True, answers=ANSWERS,
                            comment="rude staff, write to dana@example.com")
    await raise_alert(sessions, config, external_id="r-2", customer=FOX, comment="rude staff again",
                      contact_requested=True)
    return key


async def note(sessions: SessionFactory, key: str, text: str) -> None:
    config = await prepared_config(sessions)
    reply = await handle(ActionRequest(ActionId.NOTE, key, ANA, {"note": text}), sessions=sessions,
                         config=config, now=utcnow())
    assert reply.ok


async def every_row(sessions: SessionFactory) -> str:
    """Every stored row of every table, as one lower-cased text to search."""
    dump = []
    async with sessions() as session:
        for table in SQLModel.metadata.sorted_tables:
            dump += [repr(tuple(row)) for row in (await session.execute(select(table))).all()]
    return "\n".join(dump).casefold()


async def one(sessions: SessionFactory, model: type[Any], *conditions: Any) -> Any:
    async with sessions() as session:
        return (await session.execute(select(model).where(*conditions))).scalars().one()


async def events(sessions: SessionFactory, kind: str) -> list[AlertEvent]:
    async with sessions() as session:
        return list((await session.execute(select(AlertEvent).where(AlertEvent.kind == kind))).scalars())


async def test_erase_removes_every_trace_and_the_posted_card_shows_erased(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    slack.without_tiers()  # a card, a thread line and an update within a second: not about rate limits
    key = await dana_alert(sessions, slack_channel="C0TEAM")
    worker = worker_for(sessions, slack)
    await worker.drain()
    assert "Dana Scully" in str(slack.calls("chat.postMessage")[0].args["blocks"])
    await note(sessions, key, "Called Dana Scully back on +1 202 555 0143")
    await worker.drain()  # the thread line is delivered: its outbox row holds the text
    assert (await sweep_acks(sessions, mail_kit(), now=utcnow() + timedelta(seconds=1))).queued == 2
    assert "dana@example.com" in await every_row(sessions)

    erasure = await erase_customer(sessions, email=" DANA@example.COM ", actor=CLI, now=utcnow())

    assert (erasure.responses, erasure.alerts, erasure.cards_updated) == (1, (key,), 1)
    stored = await every_row(sessions)
    assert not [trace for trace in DANA_TRACES[:5] if trace in stored], "nothing of Dana is left"
    assert "fox@example.com" in stored and "fox mulder" in stored, "other customers are untouched"
    response = await one(sessions, Feedback, Feedback.external_id == "r-1")
    contact = (response.customer_name, response.customer_email, response.customer_phone)
    assert contact == ("[erased]", None, None)
    assert response.comment == "[erased]" and response.nps == 2 and response.contact_requested
    assert [a["value"] for a in response.answers] == [2, False, "[erased]"], "figures stay, free text goes"
    async with sessions() as session:
        kinds = [row.kind for row in (await session.execute(select(Outbox))).scalars()]
        hashes = list((await session.execute(select(MailSuppression.address_hash))).scalars())
    assert kinds.count("email.send") == 1, "only Fox's acknowledgement is left"
    assert hashes == [address_hash("dana@example.com")]
    ((audit,),) = [await events(sessions, ERASED_EVENT)]
    assert (audit.actor_id, audit.platform, audit.data) == ("privacy-officer", "cli", {"responses": 1})

    updates_before = len(slack.calls("chat.update"))
    await worker.drain()
    (updated,) = slack.calls("chat.update")[updates_before:]
    shown = str(updated.args["blocks"]) + updated.args["text"]
    assert "[erased]" in shown and "Scully" not in shown and "dana@" not in shown.casefold()
    assert updated.args["channel"] == "C0TEAM"


async def test_erasing_twice_or_an_unknown_address_is_harmless(sessions: SessionFactory) -> None:
    await dana_alert(sessions)
    first = await erase_customer(sessions, email="dana@example.com", actor=CLI, now=utcnow())
    again = await erase_customer(sessions, email="dana@example.com", actor=CLI, now=utcnow())
    nobody = await erase_customer(sessions, email="nobody@example.com", actor=CLI, now=utcnow())
    assert (first.responses, again.responses, nobody.responses) == (1, 0, 0)
    async with sessions() as session:
        assert len((await session.execute(select(MailSuppression))).all()) == 2
    for bad in ("", "not an address", "a@b c@d", "x" * 400 + "@example.com"):
        with pytest.raises(PrivacyError):
            await erase_customer(sessions, email=bad, actor=CLI, now=utcnow())


async def test_erase_blanks_follow_up_answers_but_keeps_the_verdict(sessions: SessionFactory) -> None:
    key = await dana_alert(sessions)
    alert = await one(sessions, Alert, Alert.key == key)
    async with transaction(sessions) as session:
        session.add(FollowUp(alert_id=alert.id, nonce="n1", address_hash=address_hash("dana@example.com"),
                             language="en", answered_at=utcnow(), resolved=False, score=3,
                             comment="still broken, Dana"))
    held = await export_customer(sessions, email="dana@example.com", actor=CLI, now=utcnow())
    assert held["alerts"][0]["follow_ups"][0]["comment"] == "still broken, Dana"
    await erase_customer(sessions, email="dana@example.com", actor=CLI, now=utcnow())
    answer = await one(sessions, FollowUp, col(FollowUp.nonce) == "n1")
    assert (answer.resolved, answer.score, answer.comment) == (False, 3, "[erased]")


async def test_export_shows_what_is_held_and_is_audited_without_it(sessions: SessionFactory) -> None:
    key = await dana_alert(sessions)
    await note(sessions, key, "Called Dana back")
    await sweep_acks(sessions, mail_kit(), now=utcnow() + timedelta(seconds=1))
    held = await export_customer(sessions, email="dana@EXAMPLE.com", actor=CLI, now=utcnow())
    assert held["email"] == "dana@example.com" and held["suppressed"] is False
    (response,) = held["responses"]
    assert (response["name"], response["email"], response["phone"]) == ("Dana Scully", "Dana@Example.com",
                                                                          "+1 202 555 0143")
    assert response["source"] == "web" and response["comment"].startswith("rude staff")
    assert [a["value"] for a in response["answers"]] == [2, False, "ask for Dana at the desk"]
    (alert,) = held["alerts"]
    assert alert["key"] == key and "note" in [e["kind"] for e in alert["events"]]
    (mail,) = [m for m in held["messages"] if m["kind"] == "email.send"]
    assert (mail["purpose"], mail["to"], mail["status"]) == ("ack", "Dana@Example.com", "pending")
    assert "Called Dana back" in str([m for m in held["messages"] if m["kind"] == "thread.reply"])
    (audit,) = await events(sessions, EXPORTED_EVENT)
    assert audit.data == {"responses": 1}
    assert (await export_customer(sessions, email="fox@example.com", actor=CLI, now=utcnow()))["alerts"]


async def test_retention_redacts_old_details_and_keeps_the_figures(sessions: SessionFactory) -> None:
    key = await dana_alert(sessions)
    await note(sessions, key, "Dana Scully wants a refund")
    long_ago = utcnow() - timedelta(days=400)
    async with transaction(sessions) as session:
        dated = update(Feedback).where(col(Feedback.external_id) == "r-1").values(received_at=long_ago)
        await session.execute(dated)
    before = await one(sessions, Alert, Alert.key == key)
    assert await redact_expired(sessions, retention_days=0, now=utcnow()) == 0, "0 keeps everything"
    assert await redact_expired(sessions, retention_days=365, now=utcnow()) == 1
    assert await redact_expired(sessions, retention_days=365, now=utcnow()) == 0, "never twice"
    old = await one(sessions, Feedback, Feedback.external_id == "r-1")
    assert (old.customer_name, old.customer_email, old.customer_phone, old.customer_id, old.comment) == (
        "[redacted]", None, None, None, "[redacted]")
    assert (old.nps, old.contact_requested, old.received_at) == (2, True, long_ago)
    assert [a["value"] for a in old.answers] == [2, False, "[redacted]"]
    after = await one(sessions, Alert, Alert.key == key)
    assert (after.severity, after.status, after.created_at, after.reasons) == (
        before.severity, before.status, before.created_at, before.reasons)
    assert "scully" not in str([e.data for e in await events(sessions, "note")]).casefold()
    assert len(await events(sessions, REDACTED_EVENT)) == 1
    recent = await one(sessions, Feedback, Feedback.external_id == "r-2")
    assert recent.customer_name == "Fox Mulder" and recent.comment == "rude staff again"


async def test_the_hourly_retention_job_redacts_with_the_configured_period(sessions: SessionFactory) -> None:
    await dana_alert(sessions)
    async with transaction(sessions) as session:
        dated = update(Feedback).where(col(Feedback.external_id) == "r-1")
        await session.execute(dated.values(received_at=utcnow() - timedelta(days=31)))
    assert await run_retention(sessions, customer_retention_days=90) == 0
    assert await run_retention(sessions, customer_retention_days=30) == 1
    assert (await one(sessions, Feedback, col(Feedback.external_id) == "r-1")).customer_email is None
    assert build_settings(mode="test", secret_key=TEST_SECRET_KEY).customer_retention_days == 365


@pytest.fixture
async def ctx(engine: AsyncEngine, database_url: str) -> AsyncIterator[Context]:
    context = await open_context(database_url)
    yield context
    await context.close()


async def test_slash_erase_is_for_admins_only(ctx: Context) -> None:
    await dana_alert(ctx.sessions)
    refused = await run_command("erase dana@example.com", caller=USER, ctx=ctx)
    assert not refused.ok and "Only hotloop admins" in refused.text
    assert (await one(ctx.sessions, Feedback, Feedback.external_id == "r-1")).customer_name == "Dana Scully"
    done = await run_command("erase <mailto:dana@example.com|dana@example.com>", caller=ADMIN, ctx=ctx)
    assert done.ok and done.secret and "Erased 1 response" in done.text and "dana" not in done.text.casefold()
    assert (await one(ctx.sessions, Feedback, Feedback.external_id == "r-1")).customer_name == "[erased]"
    usage = await run_command("erase", caller=ADMIN, ctx=ctx)
    assert not usage.ok and "erase <email>" in usage.text


async def test_no_log_line_or_audit_event_carries_the_customer(ctx: Context) -> None:
    await dana_alert(ctx.sessions)
    with structlog.testing.capture_logs() as logs:
        await export_customer(ctx.sessions, email="dana@example.com", actor=CLI, now=utcnow())
        await run_command("erase dana@example.com", caller=ADMIN, ctx=ctx)
        await redact_expired(ctx.sessions, retention_days=1, now=utcnow() + timedelta(days=2))
    assert {entry["event"] for entry in logs} >= {"privacy.exported", "privacy.erased",
                                                  "privacy.retention_redacted"}
    logged = str(logs).casefold()
    assert not [trace for trace in (*DANA_TRACES, "fox", "mulder") if trace in logged]
    kinds = (ERASED_EVENT, EXPORTED_EVENT, REDACTED_EVENT)
    audit = [e for kind in kinds for e in await events(ctx.sessions, kind)]
    # Dana's alert: exported, then erased; Fox's: redacted (Dana's response was already erased)
    assert sorted(e.kind for e in audit) == [ERASED_EVENT, EXPORTED_EVENT, REDACTED_EVENT]
    assert not [trace for trace in DANA_TRACES if trace in str([e.data for e in audit]).casefold()]


async def eventually(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_erase_updates_the_cards_posted_in_slack_and_teams(
    app_with_chats: AppWithChats, slack: FakeSlackApi, connector: FakeBotConnector
) -> None:
    """The running app (web + worker) with the team's card in Slack and in a Teams channel."""
    team = {"slack_channel": "C0TEAM", "teams_channel": TEAMS_CHANNEL}
    async with app_with_chats(slack=True, teams=True, default_team=team, admins=["U0ADMIN"]) as server:
        payload = {"id": "r-1", "nps": 2, "customer": {"name": "Dana Scully", "email": "dana@example.com"},
                   "comment": "Rude staff"}
        assert (await server.post_feedback(payload)).status_code == 202
        await eventually(lambda: any("Scully" in json.dumps(c.args) for c in slack.calls("chat.postMessage")),
                         "the Slack card")
        await eventually(lambda: any(c.method == "POST" and "Scully" in json.dumps(c.body)
                                     for c in connector.calls()), "the Teams card")
        await erase_customer(server.ctx.sessions, email="dana@example.com", actor=CLI, now=utcnow())
        server.ctx.signal.notify()
        await eventually(lambda: any("[erased]" in json.dumps(c.args) for c in slack.calls("chat.update")),
                         "the Slack card updated")
        await eventually(lambda: any(c.method == "PUT" and "erased" in json.dumps(c.body)
                                     for c in connector.calls()), "the Teams card updated")
    slack_card = [json.dumps(c.args) for c in slack.calls("chat.update")][-1]
    teams_card = [json.dumps(c.body) for c in connector.calls() if c.method == "PUT"][-1]
    # Teams escapes markdown: \[erased\] shows as [erased]
    assert "[erased]" in slack_card and r"\\[erased\\]" in teams_card
    for card in (slack_card, teams_card):
        assert "Scully" not in card and "Rude staff" not in card
