"""Crash safety: `hotloop serve` SIGKILLed at random moments under webhook load loses nothing.

The short variant (≈300 webhooks, 2 kills) runs bench/crash.py's code on SQLite and, when
HOTLOOP_TEST_DATABASE_URL is set, on PostgreSQL; the long one (3000 webhooks, 10 kills, real
30-s leases) needs HOTLOOP_LONG_TESTS=1. The deterministic tests below pin the crash windows the
random kills can only hit by luck: killed after a digest was posted and recorded, before the outbox
row was marked done.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from adapters.slack.chat import SlackChat
from jobs.delivery import DeliveryWorker
from storage.db import SessionFactory
from storage.models import AlertEvent, CardRef, Outbox
from tests import REPO_ROOT
from tests.fakes.slack_api import FakeSlackApi
from tests.helpers import prepared_config, raise_alert
from tests.jobs.test_delivery import Clock, rows

REPO = REPO_ROOT
PG_ENV = "HOTLOOP_TEST_DATABASE_URL"


def _load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hotloop_bench_crash", REPO / "bench" / "crash.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


crash = _load_bench()

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _pg_admin_or_skip(db: str) -> str:
    if db == "postgres" and not os.environ.get(PG_ENV):
        pytest.skip(f"{PG_ENV} not set")
    return str(os.environ.get(PG_ENV, crash.PG_ADMIN_URL))


def _check(result: Any) -> None:
    r = result
    summary = crash.table([r])
    assert r.lost == 0, f"accepted webhooks lost: {r.lost_ids}\n{summary}"
    assert r.status_500 == 0, f"500s answered: {r.statuses}\n{summary}"
    assert not r.wrong_alerts, f"accepted ids with a missing/extra alert: {r.wrong_alerts}"
    assert r.cards_missing == 0, f"alerts whose card never reached Slack: {r.missing_keys}"
    assert r.duplicates_unexplained == 0, f"duplicate cards not explained by a kill: {r.duplicate_keys}"
    assert not r.failed_rows, f"outbox rows failed: {r.failed_rows}"
    assert r.outbox.get("pending", 0) == 0
    assert r.accepted == r.webhooks, f"senders retry until accepted: {r.unaccepted} never were"


@pytest.mark.parametrize("db", DATABASES)
def test_short_crash_run_loses_nothing(db: str, tmp_path: Path) -> None:
    result = crash.run_crash(
        db,
        webhooks=300,
        kills=2,
        concurrency=16,
        seed=11,
        skip_leases=True,
        pg_admin_url=_pg_admin_or_skip(db),
        workdir=tmp_path,
    )
    print("\n" + crash.table([result]))
    _check(result)
    assert result.restarts == 2 and result.kills == 2


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("HOTLOOP_LONG_TESTS") != "1", reason="set HOTLOOP_LONG_TESTS=1")
@pytest.mark.parametrize("db", DATABASES)
def test_long_crash_run_loses_nothing(db: str, tmp_path: Path) -> None:
    result = crash.run_crash(
        db,
        webhooks=3000,
        kills=10,
        concurrency=16,
        seed=7,
        pg_admin_url=_pg_admin_or_skip(db),
        workdir=tmp_path,
    )
    print("\n" + crash.table([result]))
    _check(result)
    assert result.restarts == 10


# ---- the crash windows, pinned -------------------------------------------------------------------


def _worker(sessions: SessionFactory, slack: FakeSlackApi, clock: Clock) -> DeliveryWorker:
    chat = SlackChat(slack.token, base_url=slack.url, timeout=1.0)
    chat.pace_seconds = 0.0
    return DeliveryWorker(sessions, {"slack": chat}, clock=clock)


async def _drain_for_an_hour(worker: DeliveryWorker, clock: Clock) -> None:
    for _ in range(12):
        clock.advance(300)
        await worker.drain()


async def test_killed_after_a_digest_was_posted_and_recorded_it_is_not_posted_again(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    """Regression: the retaken rows used to post the digest again on EVERY retry (the CardRef insert then
    hit the unique constraint), up to max_attempts digests, and ended `failed` although delivered."""
    config = await prepared_config(sessions, slack_channel="C0TEAM")
    keys = [await raise_alert(sessions, config, external_id=f"d{i}") for i in range(5)]
    clock = Clock()
    first = _worker(sessions, slack, clock)
    jobs = await first._take()
    await first.ops.execute(
        jobs
    )  # digest posted, CardRefs committed … killed before the rows were marked done
    assert len(slack.calls("chat.postMessage")) == 1
    await _drain_for_an_hour(_worker(sessions, slack, clock), clock)
    posts = slack.calls("chat.postMessage")
    assert len(posts) == 1, f"{len(posts)} digests posted for one burst"
    assert all(k in posts[0].args["text"] for k in keys)
    assert {o.status for o in await rows(sessions, Outbox)} == {"done"}
    assert not [e for e in await rows(sessions, AlertEvent) if e.kind == "delivery_failed"]
    assert len(await rows(sessions, CardRef)) == 5


async def test_killed_after_one_card_was_recorded_then_retaken_in_a_burst_it_is_not_posted_again(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    """One alert's card was posted and its CardRef saved, then the worker died; when its row comes back
    together with enough new ones to make a digest, the digest lists only the new ones."""
    config = await prepared_config(sessions, slack_channel="C0TEAM")
    lone = await raise_alert(sessions, config, external_id="lone")
    clock = Clock()
    first = _worker(sessions, slack, clock)
    jobs = await first._take()
    await first.ops.execute(jobs)  # card posted, CardRef saved … killed
    later = [await raise_alert(sessions, config, external_id=f"n{i}") for i in range(4)]
    await _drain_for_an_hour(_worker(sessions, slack, clock), clock)
    posts = [c for c in slack.calls("chat.postMessage") if c.status == 200]
    assert sum(lone in str(c.args) for c in posts) == 1, "the lone card is not posted a second time"
    assert all(sum(k in c.args["text"] for c in posts) == 1 for k in later)
    assert {o.status for o in await rows(sessions, Outbox)} == {"done"}
    assert not [e for e in await rows(sessions, AlertEvent) if e.kind == "delivery_failed"]


async def test_a_card_retaken_after_landing_in_a_digest_does_not_overwrite_the_digest(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    """A digest was posted and recorded; one of its rows comes back alone (single post path): it must not
    `chat.update` the digest message into a single card, hiding the other alerts."""
    config = await prepared_config(sessions, slack_channel="C0TEAM")
    keys = [await raise_alert(sessions, config, external_id=f"g{i}") for i in range(4)]
    clock = Clock()
    first = _worker(sessions, slack, clock)
    jobs = await first._take()
    await first.ops.execute(jobs)  # digest posted and recorded … killed
    second = _worker(sessions, slack, clock)
    clock.advance(300)
    [job, *_] = await second._take()
    await second.ops.execute([job])  # the first row alone, as a single card.post
    assert len(slack.calls("chat.postMessage")) == 1
    digest = slack.messages_in("C0TEAM")[0]
    assert all(k in str(digest["blocks"]) for k in keys), "the digest still lists every alert"
