"""`email.send` outbox rows through the real delivery worker to a real SMTP server on loopback, on SQLite
and PostgreSQL: a 4xx is retried and then sent once, a 5xx fails the row and reports it, a server that
stalls is a timeout and a retry (the documented at-least-once edge: the same Message-ID twice), and an
address unsubscribed while its e-mail waited is not written to."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.log_chat import LogChat
from adapters.mail.smtp import build_mailer
from bot.context import Context
from bot.domain import utcnow
from bot.mail.ack import sweep_acks
from bot.mail.address import address_hash
from bot.mail.kit import MailKit
from bot.mail.message import EMAIL_KIND
from jobs.delivery import DeliveryWorker
from jobs.mail import mail_handlers
from storage.db import transaction
from storage.models import Alert, AlertEvent, MailSuppression, Outbox
from tests.adapters.mail.smtpd import SmtpSink
from tests.appserver import test_settings
from tests.helpers import prepared_config, raise_alert

DANA = {"name": "Dana Scully", "email": "dana@example.com"}


@dataclass
class World:
    ctx: Context
    worker: DeliveryWorker
    key: str

    async def email_row(self) -> Outbox:
        async with self.ctx.sessions() as session:
            return (await session.execute(select(Outbox).where(Outbox.kind == EMAIL_KIND))).scalar_one()

    async def deliver(self, *, until: str = "done", timeout: float = 15.0) -> Outbox:
        """Run the worker until the e-mail row is `until` (retries included)."""
        deadline = time.monotonic() + timeout
        while (row := await self.email_row()).status != until:
            assert time.monotonic() < deadline, f"e-mail row still {row.status}: {row.last_error}"
            await self.worker.run_once()
            await asyncio.sleep(0.05)
        await self.worker.drain(timeout=5)  # the thread line and any admin DM it wrote
        return row

    async def alert(self) -> Alert:
        async with self.ctx.sessions() as session:
            return (await session.execute(select(Alert).where(Alert.key == self.key))).scalar_one()

    async def events(self, kind: str) -> list[dict[str, Any]]:
        async with self.ctx.sessions() as session:
            rows = (await session.execute(select(AlertEvent).where(AlertEvent.kind == kind))).scalars()
            return [row.data for row in rows]

    async def outbox(self, kind: str) -> list[Outbox]:
        async with self.ctx.sessions() as session:
            return list((await session.execute(select(Outbox).where(Outbox.kind == kind))).scalars())


@pytest.fixture
async def world(database_url: str, engine: AsyncEngine, smtpd: SmtpSink,
                request: pytest.FixtureRequest) -> AsyncIterator[World]:
    smtp_timeout = getattr(request, "param", 5.0)
    ctx = await Context.open(test_settings(
        database_url, smtp_url=smtpd.url, mail_from="Acme Support <support@acme.test>", ack_delay="0s",
        mail_retry_seconds=0.1, smtp_timeout_seconds=smtp_timeout, public_url="https://hotloop.acme.test"))
    config = await prepared_config(ctx.sessions)  # an admin on Slack: failures are reported to them
    key = await raise_alert(ctx.sessions, config, customer=DANA, contact_requested=True)
    await sweep_acks(ctx.sessions, MailKit.from_settings(ctx.settings), now=utcnow() + timedelta(seconds=1))
    chats = {"log": LogChat(), "slack": LogChat()}
    worker = DeliveryWorker(ctx.sessions, chats, handlers=mail_handlers(ctx, build_mailer(ctx.settings)))
    try:
        yield World(ctx, worker, key)
    finally:
        await ctx.close()


async def test_a_4xx_is_retried_then_sent_once_and_the_alert_acknowledged(
    world: World, smtpd: SmtpSink
) -> None:
    smtpd.handler.data_replies.append("451 4.3.0 try later")
    row = await world.deliver()
    assert row.attempts == 2 and smtpd.handler.refused == ["451 4.3.0 try later"]
    (got,) = smtpd.handler.received
    assert got.recipients == ["dana@example.com"] and got.message["X-Hotloop-Alert"] == world.key
    alert = await world.alert()
    assert alert.acknowledged_at is not None and alert.ack_status == "sent"
    (event,) = await world.events("acknowledged")
    assert event["to"] == "d•••@example.com" and event["message_id"] == got.message["Message-ID"]
    lines = [r.payload["text"] for r in await world.outbox("thread.reply")]
    assert any(line.startswith("Acknowledged to d•••@example.com") for line in lines)
    assert all("dana@" not in line for line in lines)


async def test_a_5xx_for_the_recipient_fails_the_row_reports_it_and_suppresses_the_address(
    world: World, smtpd: SmtpSink
) -> None:
    smtpd.handler.rcpt_replies["dana@example.com"] = "550 5.1.1 <dana@example.com>: no such user"
    row = await world.deliver(until="failed")
    assert row.attempts == 1 and smtpd.handler.received == []
    assert row.last_error is not None and "550" in row.last_error and "dana" not in row.last_error
    (failure,) = await world.events("delivery_failed")
    assert failure["kind"] == EMAIL_KIND and "dana" not in str(failure)
    notices = [r.payload["text"] for r in await world.outbox("dm")]
    assert notices and "email.send" in notices[0] and "550" in notices[0] and "dana" not in notices[0]
    async with world.ctx.sessions() as session:
        suppressed = (await session.execute(select(MailSuppression))).scalar_one()
    assert (suppressed.address_hash, suppressed.reason) == (address_hash("dana@example.com"), "bounced")
    assert (await world.alert()).acknowledged_at is None


@pytest.mark.parametrize("world", [0.5], indirect=True)
async def test_a_stalled_server_is_a_timeout_and_a_retry_with_the_same_message_id(
    world: World, smtpd: SmtpSink
) -> None:
    smtpd.handler.data_replies.append(("stall", 1.5))  # answers 250 after the client gave up on it
    row = await world.deliver()
    assert row.attempts >= 2
    late, retried = await smtpd.wait_for(2)
    assert late.message["Message-ID"] == retried.message["Message-ID"]  # at least once, recognisably
    assert len(await world.events("acknowledged")) == 1


async def test_an_address_unsubscribed_while_its_mail_waited_gets_nothing(
    world: World, smtpd: SmtpSink
) -> None:
    async with transaction(world.ctx.sessions) as session:
        session.add(MailSuppression(address_hash=address_hash("DANA@example.com"), reason="unsubscribed"))
    row = await world.deliver()
    assert row.last_error == "not sent: unsubscribed" and smtpd.handler.received == []
    assert await world.events("ack_skipped") == [{"reason": "unsubscribed"}]
    assert (await world.alert()).ack_status == "skipped"


async def test_without_an_smtp_server_the_row_fails_with_the_reason(world: World) -> None:
    world.worker.ops.handlers.update(mail_handlers(world.ctx, None))
    row = await world.deliver(until="failed")
    assert row.last_error == "no SMTP server is configured (HOTLOOP_SMTP_URL)"


async def test_a_contact_made_meanwhile_cancels_the_acknowledgement(world: World, smtpd: SmtpSink) -> None:
    async with transaction(world.ctx.sessions) as session:
        await session.execute(update(Alert).values(first_contact_at=utcnow()))
    row = await world.deliver()
    assert row.last_error == "not sent: contacted" and smtpd.handler.received == []
