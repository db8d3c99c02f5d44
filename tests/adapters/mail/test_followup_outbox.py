"""The follow-up's `email.send` row through the real delivery worker to a real SMTP server on loopback
(SQLite and PostgreSQL): sent, its `followup` row records when; an alert reopened while the e-mail waited
gets no "did we resolve your issue?"."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.log_chat import LogChat
from adapters.mail.smtp import build_mailer
from bot.action_ids import ActionId, Arg
from bot.actions.table import ActionRequest, handle
from bot.alerts.lifecycle import Actor
from bot.config.snapshot import ConfigSnapshot
from bot.context import Context
from bot.domain import utcnow
from bot.mail.followup import sweep_follow_ups
from bot.mail.kit import MailKit
from bot.mail.message import EMAIL_KIND
from jobs.delivery import DeliveryWorker
from jobs.mail import mail_handlers
from storage.models import FollowUp, Outbox
from tests.adapters.mail.smtpd import SmtpSink
from tests.appserver import test_settings
from tests.helpers import prepared_config, raise_alert

ANA = Actor(id="U0ANA", name="Ana", platform="slack")


@dataclass
class World:
    ctx: Context
    config: ConfigSnapshot
    worker: DeliveryWorker
    key: str

    async def act(self, action: ActionId, **args: str) -> None:
        request = ActionRequest(action, self.key, ANA, args)
        assert (await handle(request, sessions=self.ctx.sessions, config=self.config, now=utcnow())).ok

    async def email_row(self) -> Outbox:
        async with self.ctx.sessions() as session:
            return (await session.execute(select(Outbox).where(Outbox.kind == EMAIL_KIND))).scalar_one()

    async def deliver(self, timeout: float = 15.0) -> Outbox:
        """Run the worker until the e-mail row is done."""
        deadline = time.monotonic() + timeout
        while (row := await self.email_row()).status != "done":
            assert time.monotonic() < deadline, f"e-mail row still {row.status}: {row.last_error}"
            await self.worker.run_once()
            await asyncio.sleep(0.05)
        return row

    async def follow_up(self) -> FollowUp:
        async with self.ctx.sessions() as session:
            return (await session.execute(select(FollowUp))).scalar_one()


@pytest.fixture
async def world(database_url: str, engine: AsyncEngine, smtpd: SmtpSink) -> AsyncIterator[World]:
    ctx = await Context.open(test_settings(
        database_url, smtp_url=smtpd.url, mail_from="Acme Support <support@acme.test>", follow_up_delay="0s",
        public_url="https://hotloop.acme.test"))
    config = await prepared_config(ctx.sessions)
    key = await raise_alert(ctx.sessions, config, customer={"email": "dana@example.com"})
    worker = DeliveryWorker(ctx.sessions, {"log": LogChat(), "slack": LogChat()},
                            handlers=mail_handlers(ctx, build_mailer(ctx.settings)))
    world = World(ctx, config, worker, key)
    await world.act(ActionId.RESOLVE, **{Arg.OUTCOME: "recovered"})  # a detractor: asked by default
    kit = MailKit.from_settings(ctx.settings)
    await sweep_follow_ups(ctx.sessions, kit, now=utcnow() + timedelta(seconds=1))
    try:
        yield world
    finally:
        await ctx.close()


async def test_the_follow_up_is_sent_and_its_row_records_when(world: World, smtpd: SmtpSink) -> None:
    assert (await world.follow_up()).sent_at is None
    await world.deliver()
    (got,) = smtpd.handler.received
    assert got.message["Subject"] == "Did we resolve your issue?" and "/f/f1.en." in got.message.as_string()
    assert (await world.follow_up()).sent_at is not None


async def test_an_alert_reopened_while_its_follow_up_waited_gets_none(world: World, smtpd: SmtpSink) -> None:
    await world.act(ActionId.REOPEN)
    row = await world.deliver()
    assert (row.status, row.last_error) == ("done", "not sent: reopened") and smtpd.handler.received == []
    assert (await world.follow_up()).sent_at is None
