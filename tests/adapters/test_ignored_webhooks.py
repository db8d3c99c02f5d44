"""A webhook answered 2xx without being stored is never silent: logged with its reason (no body),
counted in Prometheus and in the IgnoredWebhook table, and shown in `/hotloop status`."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sources import qualtrics
from adapters.sources.base import IGNORE_NOT_A_RESPONSE
from bot.alerts.lifecycle import Actor
from bot.commands.table import Caller, CommandReply, run_command
from bot.domain import utcnow
from storage.db import SessionFactory, transaction
from storage.models import IgnoredWebhook
from storage.queries.ignored_webhooks import IgnoredCount, ignored_webhook_counts, record_ignored_webhook
from tests.adapters.test_webhook import row_counts
from tests.appserver import serve_app, test_settings

ADMIN = Caller(Actor("U0ADMIN", "Ann Admin", "slack"), channel="C0STORE42", channel_name="store-042")
SECRET = "qualtrics-shared-key-0123456789"
# an authentic event that is not a completed response; its MSG carries a customer's e-mail
TOPIC = "acme.controlpanel.activateSurvey.SV_abc123"
MSG = json.dumps({"SurveyID": "SV_abc123", "RecipientEmail": "dana.ignored@example.com"})


async def test_an_ignored_event_is_logged_counted_and_shown_in_status(
    engine: AsyncEngine, database_url: str
) -> None:
    name = f"qx{uuid.uuid4().hex[:8]}"  # Prometheus counters live for the whole test process
    async with serve_app(test_settings(database_url, admins=["U0ADMIN"])) as server:
        await server.add_source(name, kind="qualtrics", secret=SECRET)
        body = qualtrics.form_body(TOPIC, MSG, SECRET)
        with structlog.testing.capture_logs() as logs:
            replies = [
                await server.client.post(f"/webhooks/{name}", content=body,
                                         headers={"content-type": "application/x-www-form-urlencoded"})
                for _ in range(2)
            ]
        assert [r.status_code for r in replies] == [202, 202], replies[0].text
        assert replies[0].json()["alert"] is None and replies[0].json()["ignored"]
        assert sum((await row_counts(server)).values()) == 0  # nothing stored…

        # …but logged, with a fixed reason and without the body
        ignored = [e for e in logs if e["event"] == "webhook.ignored"]
        assert [(e["source"], e["reason"]) for e in ignored] == [(name, IGNORE_NOT_A_RESPONSE)] * 2
        assert "dana.ignored@example.com" not in repr(logs) and "RecipientEmail" not in repr(logs)

        # counted in the database, one row per day, source and reason
        async with server.ctx.sessions() as session:
            rows = (await session.execute(select(IgnoredWebhook))).scalars().all()
        assert [(r.source, r.reason, r.count, r.day) for r in rows] == [
            (name, IGNORE_NOT_A_RESPONSE, 2, utcnow().strftime("%Y-%m-%d"))
        ]

        # counted in Prometheus
        metrics = (await server.client.get("/metrics")).text
        assert (
            f'hotloop_webhooks_ignored_total{{reason="{IGNORE_NOT_A_RESPONSE}",source="{name}"}} 2.0'
            in metrics
        )

        # shown to admins in /hotloop status
        reply = await run_command("status", caller=ADMIN, ctx=server.ctx)
        assert isinstance(reply, CommandReply) and reply.ok, reply
        assert f"{name}: {IGNORE_NOT_A_RESPONSE} ×2" in reply.text


async def test_concurrent_ignored_webhooks_are_all_counted(sessions: SessionFactory) -> None:
    now = utcnow()

    async def one() -> None:
        async with transaction(sessions) as session:
            await record_ignored_webhook(session, source="tf", reason=IGNORE_NOT_A_RESPONSE, now=now)

    await asyncio.gather(*(one() for _ in range(20)))
    yesterday = now - timedelta(days=1)
    async with transaction(sessions) as session:
        await record_ignored_webhook(session, source="tf", reason=IGNORE_NOT_A_RESPONSE, now=yesterday)
        await record_ignored_webhook(session, source="dl", reason=IGNORE_NOT_A_RESPONSE, now=yesterday)
    async with sessions() as session:
        today = await ignored_webhook_counts(session, since=now)
        both_days = await ignored_webhook_counts(session, since=yesterday)
    assert today == [IgnoredCount("tf", IGNORE_NOT_A_RESPONSE, 20, now)]
    assert [(c.source, c.count) for c in both_days] == [("tf", 21), ("dl", 1)]
