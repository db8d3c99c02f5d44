"""A post that reached Slack but was never recorded is found and adopted, never sent twice (issue 11 §2).

The database really fails: a trigger refuses every CardRef insert, the way a full disk refuses a write
(SQLite `RAISE(ABORT)`, PostgreSQL SQLSTATE 53100 `disk_full`), while the post itself went through.
Nothing of ours is mocked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.teams.connector import TeamsChat
from jobs.delivery import DeliveryWorker
from storage.db import SessionFactory
from storage.models import CardRef, Outbox
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlackApi
from tests.helpers import prepared_config, raise_alert
from tests.jobs.test_content_fallback import card_calls, teams_config
from tests.jobs.test_delivery import Clock, rows, worker_for

SQLITE_FULL = (
    "CREATE TRIGGER cardref_disk_full BEFORE INSERT ON cardref "
    "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
)
PG_FULL = (
    "CREATE OR REPLACE FUNCTION hotloop_disk_full() RETURNS trigger AS $$ BEGIN "
    "RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; "
    "END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER cardref_disk_full BEFORE INSERT ON cardref "
    "FOR EACH ROW EXECUTE FUNCTION hotloop_disk_full()",
)


@asynccontextmanager
async def cardrefs_cannot_be_written(engine: AsyncEngine) -> AsyncIterator[None]:
    postgres = engine.dialect.name == "postgresql"
    async with engine.begin() as conn:
        for statement in PG_FULL if postgres else SQLITE_FULL:
            await conn.execute(text(statement))
    try:
        yield
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER cardref_disk_full" + (" ON cardref" if postgres else "")))


def top_level(slack: FakeSlackApi, channel: str) -> list[dict[str, object]]:
    return [m for m in slack.messages_in(channel) if "thread_ts" not in m]


async def test_a_card_posted_but_not_recorded_is_adopted_not_posted_again(
    engine: AsyncEngine, sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await prepared_config(sessions, slack_channel="C0TEAM")
    key = await raise_alert(sessions, config)
    clock = Clock()
    worker = worker_for(sessions, slack, clock)
    async with cardrefs_cannot_be_written(engine):
        await worker.drain()
    [row] = await rows(sessions, Outbox)
    [post] = slack.calls("chat.postMessage")
    assert post.args["metadata"] == {
        "event_type": "hotloop_outbox", "event_payload": {"outbox_id": row.id, "outbox_ids": str(row.id)}
    }
    assert len(top_level(slack, "C0TEAM")) == 1 and await rows(sessions, CardRef) == []
    assert row.status == "pending" and row.attempts == 1 and row.last_error
    assert not slack.calls("conversations.history"), "a first attempt never looks anything up"

    clock.advance(600)
    await worker.drain()
    [card] = top_level(slack, "C0TEAM")
    assert key in str(card["blocks"])
    [ref] = await rows(sessions, CardRef)
    assert (ref.channel, ref.message_id, ref.thread_id) == ("C0TEAM", card["ts"], card["ts"])
    [lookup] = slack.calls("conversations.history")
    assert lookup.args["channel"] == "C0TEAM" and lookup.args["include_all_metadata"] in ("1", "true")
    assert len(slack.calls("chat.postMessage")) == 1, "found, not posted again"
    assert [c.args["ts"] for c in slack.calls("chat.update")] == [card["ts"]]  # refreshed to the state now
    [row] = await rows(sessions, Outbox)
    assert row.status == "done"


async def test_a_digest_posted_but_not_recorded_is_adopted_for_every_alert(
    engine: AsyncEngine, sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await prepared_config(sessions, slack_channel="C0BUSY")
    keys = [await raise_alert(sessions, config, external_id=f"d{i}") for i in range(6)]
    clock = Clock()
    worker = worker_for(sessions, slack, clock)
    async with cardrefs_cannot_be_written(engine):
        await worker.drain()
    assert len(top_level(slack, "C0BUSY")) == 1 and await rows(sessions, CardRef) == []
    clock.advance(600)
    await worker.drain()
    [digest] = top_level(slack, "C0BUSY")
    assert all(k in str(digest["blocks"]) for k in keys)
    refs = await rows(sessions, CardRef)
    assert len(refs) == 6 and {r.message_id for r in refs} == {digest["ts"]}
    assert len(slack.calls("chat.postMessage")) == 1
    assert {o.status for o in await rows(sessions, Outbox)} == {"done"}


async def test_a_refused_post_is_retried_without_a_lookup(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await prepared_config(sessions, slack_channel="C0TEAM")
    await raise_alert(sessions, config)
    slack.fail_next(1, status=429, error="ratelimited", retry_after=1, method="chat.postMessage")
    clock = Clock()
    worker = worker_for(sessions, slack, clock)
    await worker.drain()
    clock.advance(600)
    await worker.drain()
    assert len(top_level(slack, "C0TEAM")) == 1
    assert not slack.calls("conversations.history"), "Slack said it posted nothing: no need to look"


async def test_teams_cannot_look_a_post_up_so_a_repeat_is_counted(
    engine: AsyncEngine, sessions: SessionFactory, connector: FakeBotConnector
) -> None:
    """The documented limit: the Bot Connector has no lookup, so Teams may show the card twice; the
    repeat is counted in `hotloop_deliveries_total{result="unverified_repost"}` and logged."""
    labels = {"platform": "teams", "kind": "card.post", "result": "unverified_repost"}
    before = REGISTRY.get_sample_value("hotloop_deliveries_total", labels) or 0.0
    config = await teams_config(sessions)
    await raise_alert(sessions, config)
    clock = Clock()
    async with TeamsChat(service_url=connector.url, token_provider=None, tenant_id="t1") as teams:
        worker = DeliveryWorker(sessions, {"teams": teams}, clock=clock)
        async with cardrefs_cannot_be_written(engine):
            await worker.drain()
        clock.advance(600)
        await worker.drain()
    assert len(card_calls(connector)) == 2
    assert REGISTRY.get_sample_value("hotloop_deliveries_total", labels) == before + 1
    assert len(await rows(sessions, CardRef)) == 1
