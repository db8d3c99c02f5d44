"""Outbox delivery against a loopback fake Slack: posts, updates, threads, 429s, failures, bursts, crashes."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from adapters.slack.chat import SlackChat
from bot.actions.table import ActionId, ActionRequest, handle
from bot.alerts.lifecycle import Actor
from bot.domain import utcnow
from jobs.delivery import DeliveryWorker
from storage.db import SessionFactory, transaction
from storage.models import AlertEvent, CardRef, Outbox, Team
from tests.fakes.slack_api import FakeSlackApi
from tests.helpers import prepared_config, raise_alert

ANA = Actor("U0ANA", "Ana", "slack")


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def worker_for(
    sessions: SessionFactory, slack: FakeSlackApi, clock: Clock | None = None, **kwargs: object
) -> DeliveryWorker:
    chat = SlackChat(slack.token, base_url=slack.url, timeout=1.0)
    chat.pace_seconds = 0.0
    return DeliveryWorker(sessions, {"slack": chat}, clock=clock or utcnow, **kwargs)  # type: ignore[arg-type]


async def rows(sessions: SessionFactory, model: type) -> list:  # type: ignore[type-arg]
    async with sessions() as session:
        return list((await session.execute(select(model))).scalars().all())


async def test_new_alert_posts_a_card_and_records_where_it_lives(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await prepared_config(sessions, slack_channel="C0TEAM")
    key = await raise_alert(sessions, config)
    await worker_for(sessions, slack).drain()
    posts = slack.calls("chat.postMessage")
    assert len(posts) == 1 and posts[0].args["channel"] == "C0TEAM"
    assert key in posts[0].args["text"]
    refs = await rows(sessions, CardRef)
    assert [(r.channel, r.audience) for r in refs] == [("C0TEAM", "team")]
    assert all(o.status == "done" for o in await rows(sessions, Outbox))


async def test_actions_update_the_card_in_place_and_write_history_in_its_thread(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    slack.without_tiers()  # a card and four thread lines within a second (pace 0): about threads
    config = await prepared_config(sessions, slack_channel="C0TEAM")
    key = await raise_alert(sessions, config)
    worker = worker_for(sessions, slack)
    await worker.drain()
    card_ts = slack.calls("chat.postMessage")[0].args
    for note in ("one", "two", "three"):
        request = ActionRequest(ActionId.NOTE, key, ANA, {"note": note})
        await handle(request, sessions=sessions, config=config, now=utcnow())
    await handle(ActionRequest(ActionId.CLAIM, key, ANA), sessions=sessions, config=config, now=utcnow())
    await worker.drain()
    updates = slack.calls("chat.update")
    assert len(updates) == 1, "pending updates of one alert coalesce into one call"
    assert "Ana" in str(updates[0].args["blocks"])
    replies = [c.args for c in slack.calls("chat.postMessage") if c.args.get("thread_ts")]
    assert len(replies) == 4
    assert all(r["channel"] == "C0TEAM" for r in replies)
    assert card_ts["channel"] == "C0TEAM"


async def test_rate_limited_channel_waits_while_other_channels_proceed(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await prepared_config(sessions, slack_channel="C0SLOW")
    async with transaction(sessions) as session:
        session.add(Team(name="fast", slack_channel="C0FAST"))
    slack.fail_next(
        1, status=429, error="ratelimited", retry_after=30, method="chat.postMessage", channel="C0SLOW"
    )
    slow = await raise_alert(sessions, config, external_id="slow")
    from bot.config.snapshot import ConfigCache
    from storage.models import Route

    async with transaction(sessions) as session:
        team = (await session.execute(select(Team).where(Team.name == "fast"))).scalar_one()
        session.add(Route(priority=1, match={"location": "9"}, team_id=team.id or 0))
    config = await ConfigCache(sessions).get()
    fast = await raise_alert(sessions, config, external_id="fast", attributes={"location": "9"})
    clock = Clock()
    worker = worker_for(sessions, slack, clock)
    await worker.drain()
    delivered = {c.args["channel"] for c in slack.calls("chat.postMessage") if c.status == 200}
    assert delivered == {"C0FAST"}
    outbox = {o.alert_id: o for o in await rows(sessions, Outbox)}
    waiting = next(o for o in outbox.values() if o.destination == "C0SLOW")
    assert waiting.status == "pending"
    assert waiting.next_attempt_at >= clock.now + timedelta(seconds=29)
    clock.advance(31)
    await worker.drain()
    delivered = [c.args["channel"] for c in slack.calls("chat.postMessage") if c.status == 200]
    assert sorted(delivered) == ["C0FAST", "C0SLOW"]
    assert slow != fast


async def test_permanent_error_is_marked_failed_and_recorded_on_the_alert(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await prepared_config(sessions, slack_channel="C0GONE")
    slack.fail_next(1, error="channel_not_found", method="chat.postMessage")
    await raise_alert(sessions, config)
    await worker_for(sessions, slack).drain()
    [row] = [o for o in await rows(sessions, Outbox) if o.kind == "card.post"]
    assert row.status == "failed" and "channel_not_found" in (row.last_error or "")
    events = [e for e in await rows(sessions, AlertEvent) if e.kind == "delivery_failed"]
    assert len(events) == 1 and events[0].data["destination"] == "C0GONE"
    dms = [c.args for c in slack.calls("chat.postMessage") if c.args["channel"].startswith("D")]
    assert len(dms) == 1 and "C0GONE" in dms[0]["text"] and "channel_not_found" in dms[0]["text"]


async def test_server_errors_are_retried_with_backoff_then_delivered(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await prepared_config(sessions, slack_channel="C0TEAM")
    slack.fail_next(2, status=500, method="chat.postMessage")
    await raise_alert(sessions, config)
    clock = Clock()
    worker = worker_for(sessions, slack, clock)
    await worker.drain()
    [row] = await rows(sessions, Outbox)
    assert row.status == "pending" and row.attempts == 1 and row.next_attempt_at > clock.now
    for _ in range(2):
        clock.advance(600)
        await worker.drain()
    [row] = await rows(sessions, Outbox)
    assert row.status == "done" and row.attempts == 3
    assert len([c for c in slack.calls("chat.postMessage") if c.status == 200]) == 1


async def test_a_burst_to_one_channel_becomes_one_digest_kept_in_sync(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await prepared_config(sessions, slack_channel="C0BUSY")
    keys = [await raise_alert(sessions, config, external_id=f"b{i}") for i in range(12)]
    worker = worker_for(sessions, slack)
    await worker.drain()
    posts = slack.calls("chat.postMessage")
    assert len(posts) == 1, "twelve alerts at once are grouped, not flooded"
    assert all(k in str(posts[0].args["blocks"]) for k in keys)
    refs = await rows(sessions, CardRef)
    assert len(refs) == 12 and {r.audience for r in refs} == {"digest"}
    await handle(
        ActionRequest(ActionId.CLAIM, keys[3], ANA), sessions=sessions, config=config, now=utcnow()
    )
    await worker.drain()
    [update] = slack.calls("chat.update")
    assert update.args["ts"] == refs[0].message_id
    assert "Ana" in str(update.args["blocks"])


async def test_crash_after_post_is_repaired_without_a_second_card(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await prepared_config(sessions, slack_channel="C0TEAM")
    await raise_alert(sessions, config)
    clock = Clock()
    first = worker_for(sessions, slack, clock)
    jobs = await first._take()  # the worker leased the row, posted, saved the CardRef … then died
    await first.ops.execute(jobs)
    assert len(slack.calls("chat.postMessage")) == 1
    clock.advance(5)
    second = worker_for(sessions, slack, clock)
    assert await second.run_once() == 0, "a leased row is not taken by another worker"
    clock.advance(300)
    await second.drain()
    assert len(slack.calls("chat.postMessage")) == 1, (
        "the retaken row refreshes the card instead of posting again"
    )
    assert len(slack.calls("chat.update")) == 1
    assert all(o.status == "done" for o in await rows(sessions, Outbox))


async def test_a_click_from_a_channel_without_the_card_changes_nothing(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await prepared_config(sessions, slack_channel="C0TEAM")
    key = await raise_alert(sessions, config)
    await worker_for(sessions, slack).drain()
    foreign = await handle(
        ActionRequest(ActionId.CLAIM, key, ANA, channel="C0OTHER"),
        sessions=sessions,
        config=config,
        now=utcnow(),
    )
    assert not foreign.ok and "not handled in this channel" in foreign.message
    here = await handle(
        ActionRequest(ActionId.CLAIM, key, ANA, channel="C0TEAM"),
        sessions=sessions,
        config=config,
        now=utcnow(),
    )
    assert here.ok


async def test_one_batch_with_mixed_outcomes_records_each_row_its_own(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    from jobs.delivery_ops import Verdict

    config = await prepared_config(sessions, slack_channel="C0TEAM")
    for i in range(5):
        await raise_alert(sessions, config, external_id=f"m{i}")
    clock = Clock()
    worker = worker_for(sessions, slack, clock, max_attempts=12)
    jobs = await worker._take()
    assert len(jobs) == 5
    verdicts = {
        jobs[0].id: Verdict("done"),
        jobs[1].id: Verdict("retry", "slow down", retry_after=30),
        jobs[2].id: Verdict("failed", "channel_not_found"),
        jobs[3].id: Verdict("defer"),
        jobs[4].id: Verdict("done"),
    }
    await worker._record(jobs, verdicts)
    by_id = {o.id: o for o in await rows(sessions, Outbox)}
    done, retry, failed, deferred, done_too = (by_id[j.id] for j in jobs)
    assert (done.status, done.done_at, done.last_error) == ("done", clock.now, None)
    assert (done_too.status, done_too.done_at) == ("done", clock.now)
    assert (retry.status, retry.last_error) == ("pending", "slow down")
    assert retry.next_attempt_at == clock.now + timedelta(seconds=30)
    assert (failed.status, failed.last_error) == ("failed", "channel_not_found")
    assert (deferred.status, deferred.attempts) == ("pending", 0)
    assert deferred.next_attempt_at == clock.now + timedelta(seconds=1)
    events = [e.kind for e in await rows(sessions, AlertEvent)]
    assert events.count("delivery_failed") == 1


async def test_a_retaken_digest_leaves_out_alerts_already_placed(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await prepared_config(sessions, slack_channel="C0BUSY")
    keys = [await raise_alert(sessions, config, external_id=f"d{i}") for i in range(6)]
    worker = worker_for(sessions, slack)
    jobs = await worker._take()
    async with transaction(sessions) as session:  # the first alert's card was posted before a crash
        session.add(CardRef(alert_id=jobs[0].alert_id or 0, platform="slack", channel="C0BUSY",
                            message_id="1.000", audience="team"))
    verdicts = await worker.ops.execute(jobs)
    assert {v.status for v in verdicts.values()} == {"done"}
    [digest] = slack.calls("chat.postMessage")
    shown = str(digest.args["blocks"])
    assert keys[0] not in shown and all(k in shown for k in keys[1:])
    refs = await rows(sessions, CardRef)
    assert sorted(r.audience for r in refs) == ["digest"] * 5 + ["team"]
    assert len({r.message_id for r in refs if r.audience == "digest"} - {"1.000"}) == 1
