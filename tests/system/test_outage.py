"""The database goes away under load: every answer is 202/200 (stored), 404, or 503 with a reason and
Retry-After (nothing stored, retry later); never a 500 and never a reset connection; and service resumes
by itself when the database is back.

PostgreSQL: the app reaches the shared server through a loopback TCP proxy this test controls, on a
throw-away database of its own. "Stopped" = the proxy closes its listener and aborts every connection,
"restarted" = it listens again, "backends killed" = pg_terminate_backend on that database only.
SQLite: the database file is replaced by a directory (it cannot be opened), then put back.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url, select, text
from sqlmodel import col

from adapters.sources import qualtrics
from adapters.sources.generic import sign
from bot.settings import Role
from storage.db import create_all, create_engine_for
from storage.models import Feedback, Outbox
from storage.outage import DATABASE_UNAVAILABLE
from tests.adapters.teams.activities import message
from tests.appserver import SOURCE_SECRET, AppServer, serve_app, test_settings
from tests.databases import throwaway_pg_database
from tests.fakes.bot_connector import FakeBotConnector
from tests.tcpproxy import TcpProxy

QUALTRICS_SECRET = "qualtrics-shared-key-0123456789"
WEBHOOKS, CONCURRENCY = 200, 16


@pytest.fixture(scope="module")
def outage_pg_url() -> Iterator[str]:
    yield from throwaway_pg_database("hotloop_outage")


def generic(i: int) -> tuple[str, bytes, dict[str, str]]:
    body = json.dumps({"id": f"load-{i}", "nps": i % 11, "comment": "waited"}).encode()
    return "web", body, {"content-type": "application/json",
                         "x-hotloop-signature": sign(SOURCE_SECRET, body, int(time.time()))}


def qualtrics_event(i: int) -> tuple[str, bytes, dict[str, str]]:
    msg = json.dumps({"SurveyID": "SV_abc123", "ResponseID": f"R_load{i}", "Status": "Complete"})
    body = qualtrics.form_body("acme.surveyengine.completedResponse.SV_abc123", msg, QUALTRICS_SECRET)
    return "qx", body, {"content-type": "application/x-www-form-urlencoded"}


def unknown_source(i: int) -> tuple[str, bytes, dict[str, str]]:
    return f"probe-{i}", b"{}", {"content-type": "application/json"}  # a source lookup every time


def request_for(i: int) -> tuple[str, bytes, dict[str, str]]:
    kinds = (generic, generic, generic, qualtrics_event, unknown_source)
    return kinds[i % len(kinds)](i)


async def drive(server: AppServer, events: dict[int, Callable[[], Awaitable[None]]]) -> dict[int, object]:
    """WEBHOOKS requests, CONCURRENCY at a time; `events[i]` runs before request i is sent. Returns
    request number → status code, or the transport error's name."""
    outcomes: dict[int, object] = {}
    numbers = iter(range(WEBHOOKS))

    async def worker(client: httpx.AsyncClient) -> None:
        for i in numbers:
            if i in events:
                await events[i]()
            source, body, headers = request_for(i)
            try:
                reply = await client.post(f"/webhooks/{source}", content=body, headers=headers)
            except httpx.TransportError as error:
                outcomes[i] = type(error).__name__
                continue
            outcomes[i] = reply.status_code
            if reply.status_code == 503:
                assert reply.json() == {"error": DATABASE_UNAVAILABLE}
                assert reply.headers["retry-after"].isdigit()
            await asyncio.sleep(0.01)

    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=server.url, timeout=30, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))
    return outcomes


async def stored(server: AppServer, outcomes: dict[int, object]) -> set[int]:
    """The accepted requests whose rows are in the database."""
    async with server.ctx.sessions() as session:
        feedback = set((await session.execute(select(col(Feedback.external_id)))).scalars())
        fetches = set((await session.execute(select(col(Outbox.destination)))).scalars())
    fetched = {d.rsplit(":", 1)[-1] for d in fetches}
    return {i for i, status in outcomes.items()
            if status in (200, 202) and (f"load-{i}" in feedback or f"R_load{i}" in fetched)}


async def terminate_backends(url: str) -> None:
    """Kill every connection to the test's own database (never another one)."""
    engine = create_engine_for(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        )
    await engine.dispose()


@pytest.mark.postgres
async def test_postgres_stopped_restarted_and_killed_under_load(outage_pg_url: str) -> None:
    direct = create_engine_for(outage_pg_url)
    await create_all(direct)
    await direct.dispose()
    target = make_url(outage_pg_url)
    proxy = TcpProxy((target.host or "127.0.0.1", target.port or 5432))
    await proxy.start()
    proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)

    async def stop() -> None:
        await proxy.cut()

    async def pause_then_restart() -> None:
        await proxy.cut()
        await asyncio.sleep(0.5)
        await proxy.restore()

    async def kill() -> None:
        await terminate_backends(outage_pg_url)

    try:
        async with serve_app(test_settings(proxied), role=Role.WEB) as server:
            await server.add_source("web")
            await server.add_source("qx", kind="qualtrics", secret=QUALTRICS_SECRET)
            events = {30: stop, 60: proxy.restore, 100: kill, 130: kill, 150: pause_then_restart}
            outcomes = await drive(server, events)
            await assert_clean(server, outcomes)
    finally:
        await proxy.close()


async def assert_clean(server: AppServer, outcomes: dict[int, object]) -> None:
    tally = Counter(outcomes.values())
    assert len(outcomes) == WEBHOOKS
    assert set(tally) <= {200, 202, 404, 503}, tally  # no 500, no reset connection
    assert tally[503] > 0, f"the database never went away: {tally}"  # the test did what it says
    accepted = {i for i, status in outcomes.items() if status in (200, 202)}
    assert await stored(server, outcomes) == accepted  # every 2xx was stored
    # back by itself: the next webhooks are all accepted
    after = [await server.post_feedback({"id": f"after-{n}", "nps": 3}) for n in range(10)]
    assert [r.status_code for r in after] == [202] * 10, [r.text for r in after]


async def test_sqlite_that_cannot_be_opened_answers_503_then_recovers(
    tmp_path: Path, connector: FakeBotConnector
) -> None:
    path = tmp_path / "hotloop.db"
    schema = create_engine_for(f"sqlite+aiosqlite:///{path}")
    await create_all(schema)
    await schema.dispose()
    settings = test_settings(f"sqlite+aiosqlite:///{path}", teams_allow_unauthenticated=True)
    async with serve_app(settings, role=Role.WEB) as server:
        await server.add_source("web")
        await server.add_source("later")  # not looked up yet: its first lookup meets the outage
        assert (await server.post_feedback({"id": "before", "nps": 3})).status_code == 202
        await server.ctx.engine.dispose()  # no open connection keeps the old file alive
        aside = tmp_path / "moved-away.db"
        os.replace(path, aside)
        path.mkdir()  # what is at the path can no longer be opened as a database
        try:
            for reply in (await server.post_feedback({"id": "during", "nps": 3}, source="later"),
                          await server.client.get("/metrics"),
                          await server.client.post("/api/messages", json=message(connector.url, "status"))):
                assert reply.status_code == 503, reply.text
                assert reply.json() == {"error": DATABASE_UNAVAILABLE}
                assert reply.headers["retry-after"].isdigit()
        finally:
            path.rmdir()
            os.replace(aside, path)
        after = await server.post_feedback({"id": f"after-{uuid.uuid4().hex}", "nps": 3}, source="later")
        assert after.status_code == 202, after.text

