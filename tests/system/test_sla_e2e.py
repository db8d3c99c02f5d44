"""The SLA sweep end to end: outbox → delivery → a loopback fake of Slack, in process and as real
`hotloop serve` processes (one on each backend; two racing workers on PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from adapters.slack.chat import SlackChat
from adapters.sources.generic import sign
from bot.alerts.lifecycle import Actor, apply, plan_claim
from bot.config.snapshot import ensure_defaults
from bot.config.sources import add_source
from bot.crypto import SecretBox
from bot.digests import enqueue_due_digests
from bot.domain import FeedbackIn, utcnow
from bot.ingest.accept import ingest
from bot.sla_sweep import sweep
from jobs.delivery import DeliveryWorker
from jobs.sla import delivery_handlers, sla_jobs
from storage.db import SessionFactory, create_engine_for, session_factory, transaction
from storage.models import Alert, AlertEvent, CardRef, Feedback, SlaPolicy, Team
from tests.appserver import SOURCE_SECRET, TEST_SECRET_KEY, free_port, test_settings
from tests.databases import throwaway_pg_database
from tests.fakes.slack_api import FakeSlackApi
from tests.helpers import prepared_config

BOT_TOKEN = "xoxb-test"
SIGNING_SECRET = "signing-secret-0123456789"
CHANNEL = "C0HOT"


@pytest.fixture
def slack() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(token=BOT_TOKEN) as fake:
        yield fake


def replies(slack: FakeSlackApi, channel: str, needle: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages_in(channel) if m.get("thread_ts") and needle in m.get("text", "")]


async def test_breach_and_digest_reach_slack_through_the_outbox(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await prepared_config(sessions, slack_channel=CHANNEL, managers_channel="C0MGRS")
    t0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    clock = [t0]
    chats = {"slack": SlackChat(BOT_TOKEN, base_url=slack.url, timeout=5)}
    worker = DeliveryWorker(sessions, chats, clock=lambda: clock[0], handlers=delivery_handlers(None, chats))  # type: ignore[arg-type]
    result = await ingest(
        sessions,
        source_id=1,
        source_name="web",
        config=config,
        alarming_words=["rude"],
        item=FeedbackIn(external_id="r-1", nps=1, comment="rude"),
        now=t0,
    )
    key = result.alert_key or ""
    await worker.drain()
    ana = Actor("U0ANA", "Ana", "slack")
    assert (await apply(sessions, key=key, actor=ana, now=t0, plan=plan_claim(ana, t0))).ok
    clock[0] = t0 + timedelta(hours=4)
    assert (await sweep(sessions, config=config, now=clock[0])).breached == 1
    await worker.drain()
    card = next(m for m in slack.messages_in(CHANNEL) if "thread_ts" not in m)
    [breach] = replies(slack, CHANNEL, "SLA breach")
    assert breach["thread_ts"] == card["ts"] and breach["text"].startswith("<@U0ANA> SLA breach: resolve")
    assert "missed its resolve deadline" in slack.messages_in("D0ANA")[0]["text"]
    managers = [m for m in slack.messages_in("C0MGRS") if "thread_ts" not in m]
    assert len(managers) == 1 and "HA-1001" in managers[0]["text"]  # the managers' card (escalation level 1)

    clock[0] = datetime(2026, 3, 5, 9, 5, tzinfo=UTC)
    assert await enqueue_due_digests(sessions, now=clock[0]) == 1
    await worker.drain()
    digest = slack.messages_in("C0MGRS")[-1]
    assert digest["text"].startswith("support: 0 open, 1 past their SLA")
    assert any("Daily digest" in json.dumps(block) for block in digest["blocks"])


async def test_sla_jobs_are_in_the_job_table(database_url: str, engine: object) -> None:
    from bot.context import Context
    from jobs.runner import job_table

    ctx = await Context.open(test_settings(database_url, sla_sweep_seconds=2.5))
    try:
        jobs = {job.id: job for job in job_table(ctx, {})}
        assert jobs["sla-sweep"].seconds == 2.5 and jobs["daily-digest"].seconds == 3600
        assert [j.id for j in sla_jobs(ctx, {})] == ["sla-sweep", "daily-digest"]
        assert (await jobs["sla-sweep"].run()).taken == 0  # type: ignore[attr-defined]
        assert await jobs["daily-digest"].run() == 0
    finally:
        await ctx.close()


# ---- real processes -----------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database that only `hotloop db upgrade` will shape (no create_all)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/serve.db"
        return
    yield from throwaway_pg_database("hotloop_p")


def process_env(url: str, slack: FakeSlackApi) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLOOP_")}
    env.update(
        HOTLOOP_DATABASE_URL=url,
        HOTLOOP_SECRET_KEY=TEST_SECRET_KEY,
        HOTLOOP_SLACK_BOT_TOKEN=BOT_TOKEN,
        HOTLOOP_SLACK_SIGNING_SECRET=SIGNING_SECRET,
        HOTLOOP_SLACK_API_URL=slack.url,
        HOTLOOP_SLA_SWEEP_SECONDS="0.3",
        HOTLOOP_DELIVERY_POLL_SECONDS="0.2",
        HOTLOOP_LOG_JSON="false",
        HOTLOOP_LOG_LEVEL="warning",
    )
    return env


def hotloop(*args: str) -> list[str]:
    return [sys.executable, "-c", "from hotloop.cli import main; main()", *args]


@asynccontextmanager
async def prepared(url: str, slack: FakeSlackApi, tmp_path: Path) -> AsyncIterator[SessionFactory]:
    """Migrate with the real CLI, then seed: the default team posts to CHANNEL; source "web"."""
    subprocess.run(
        hotloop("db", "upgrade"),
        env=process_env(url, slack),
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
    )
    engine = create_engine_for(url)
    sessions = session_factory(engine)
    await ensure_defaults(sessions, default_team="support", admins=[])
    async with transaction(sessions) as session:
        await session.execute(update(Team).values(slack_channel=CHANNEL))
    await add_source(
        sessions,
        SecretBox.from_settings(test_settings(url)),
        name="web",
        kind="generic",
        secret=SOURCE_SECRET,
    )
    try:
        yield sessions
    finally:
        await engine.dispose()


@asynccontextmanager
async def serving(url: str, slack: FakeSlackApi, tmp_path: Path, *, role: str = "all") -> AsyncIterator[str]:
    port = free_port()
    log = (tmp_path / f"serve-{port}.log").open("w")
    proc = subprocess.Popen(
        hotloop("serve", "--port", str(port), "--role", role),
        env=process_env(url, slack),
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            for _ in range(300):
                if proc.poll() is not None:
                    raise AssertionError((tmp_path / f"serve-{port}.log").read_text())
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


async def wait_until(predicate: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return bool(predicate())


async def test_served_breach_nag_arrives_in_the_card_thread(
    fresh_url: str, slack: FakeSlackApi, tmp_path: Path
) -> None:
    async with prepared(fresh_url, slack, tmp_path) as sessions:
        async with transaction(sessions) as session:
            for severity in ("low", "normal", "high", "critical"):
                session.add(SlaPolicy(team_id=None, severity=severity, claim_seconds=2, resolve_seconds=3600))
        async with serving(fresh_url, slack, tmp_path) as base:
            body = json.dumps(
                {"id": "r-1", "nps": 2, "contact_requested": True, "comment": "Rude staff"}
            ).encode()
            headers = {
                "content-type": "application/json",
                "x-hotloop-signature": sign(SOURCE_SECRET, body, int(time.time())),
            }
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                reply = await client.post("/webhooks/web", content=body, headers=headers)
            assert reply.status_code == 202, reply.text
            assert await wait_until(lambda: replies(slack, CHANNEL, "SLA breach"), timeout=30)
            await asyncio.sleep(1.0)  # a few more sweeps: still one breach line
        card = next(m for m in slack.messages_in(CHANNEL) if "thread_ts" not in m)
        [breach] = replies(slack, CHANNEL, "SLA breach")
        assert breach["thread_ts"] == card["ts"]
        assert breach["text"].startswith("<!channel> SLA breach: claim was due")
        async with sessions() as session:
            kinds = (await session.execute(select(AlertEvent.kind))).scalars().all()
        assert kinds.count("breached") == 1


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    yield from throwaway_pg_database("hotloop_p")


@pytest.mark.postgres
async def test_two_worker_processes_post_each_breach_once(
    fresh_pg_url: str, slack: FakeSlackApi, tmp_path: Path
) -> None:
    await _race_two_workers(fresh_pg_url, slack, tmp_path, alerts=400)


async def _race_two_workers(url: str, slack: FakeSlackApi, tmp_path: Path, *, alerts: int) -> None:
    slack.without_tiers()  # 400 parents and 400 breach lines in one channel: about "once", not Slack's pace
    async with (
        prepared(url, slack, tmp_path) as sessions,
        serving(url, slack, tmp_path, role="worker"),
        serving(url, slack, tmp_path, role="worker"),
    ):
        parents = await _post_parents(slack, alerts)
        past = utcnow() - timedelta(hours=1)
        async with transaction(sessions) as session:
            team_id = (await session.execute(select(Team.id))).scalar_one()
            feedback = [Feedback(source_id=1, external_id=f"r-{i}", received_at=past) for i in range(alerts)]
            session.add_all(feedback)
            await session.flush()
            rows = [
                Alert(
                    key=f"HA-{2000 + i}",
                    feedback_id=f.id or 0,
                    severity="critical",
                    team_id=team_id,
                    created_at=past,
                    claim_due_at=past + timedelta(minutes=15),
                    resolve_due_at=past + timedelta(hours=4),
                    next_due_at=past + timedelta(minutes=15),
                )
                for i, f in enumerate(feedback)
            ]
            session.add_all(rows)
            await session.flush()
            session.add_all(
                CardRef(alert_id=a.id or 0, platform="slack", channel=CHANNEL, message_id=ts, thread_id=ts)
                for a, ts in zip(rows, parents, strict=True)
            )
        assert await wait_until(lambda: len(replies(slack, CHANNEL, "SLA breach")) >= alerts, timeout=90)
        await asyncio.sleep(1.5)  # let both workers sweep a few more times
    lines = replies(slack, CHANNEL, "SLA breach")
    assert sorted(m["thread_ts"] for m in lines) == sorted(parents)  # every thread, once
    async with sessions_for(url) as sessions, sessions() as session:
        count = (
            await session.execute(
                select(func.count()).select_from(AlertEvent).where(AlertEvent.kind == "breached")
            )
        ).scalar_one()
    assert count == alerts


@asynccontextmanager
async def sessions_for(url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine_for(url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def _post_parents(slack: FakeSlackApi, count: int) -> list[str]:
    """The alert cards, already in the channel: their ts are the threads the breach lines go to."""
    headers = {"Authorization": f"Bearer {BOT_TOKEN}"}
    async with httpx.AsyncClient(base_url=slack.url, headers=headers, timeout=10) as client:
        sent = [
            await client.post("chat.postMessage", json={"channel": CHANNEL, "text": f"card {i}"})
            for i in range(count)
        ]
    return [str(r.json()["ts"]) for r in sent]


async def test_hourly_jobs_first_run_soon_after_start(database_url: str, engine: object) -> None:
    """A process restarted more often than hourly (deploys) must still run the digest and retention."""
    from datetime import UTC, datetime, timedelta

    from bot.context import Context
    from jobs.runner import Workers

    ctx = await Context.open(test_settings(database_url, sla_sweep_seconds=2.5))
    workers = Workers(ctx, {})
    try:
        workers.start()
        now = datetime.now(UTC)
        due = {job.id: job.next_run_time - now for job in workers.scheduler.get_jobs()}
        assert due["daily-digest"] <= timedelta(seconds=10)
        assert due["retention"] <= timedelta(seconds=30)
        assert due["sla-sweep"] <= timedelta(seconds=2.5)
        assert workers.scheduler.get_job("daily-digest").trigger.interval == timedelta(hours=1)
    finally:
        await workers.stop()
        await ctx.close()
