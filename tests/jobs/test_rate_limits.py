"""The delivery worker under Slack's real limits (the strict fake, its clock the worker's clock).

`chat.update` is Tier 3 for the whole workspace: a 429 on one card update holds every update of the
workspace until Retry-After, while new cards and thread lines (chat.postMessage, per channel) carry on;
waiting updates go most urgent first (overdue → severity → age); a digest listing many claimed alerts is
refreshed by one call; a row waiting on a rate limit never counts as a failed attempt."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from datetime import timedelta

from sqlalchemy import select, update

from adapters.slack.chat import SlackChat
from bot.actions.table import ActionId, ActionRequest, handle
from bot.alerts.lifecycle import Actor
from bot.config.snapshot import ConfigCache, ConfigSnapshot
from bot.domain import utcnow
from jobs.delivery import DeliveryWorker
from storage.db import SessionFactory, transaction
from storage.models import Alert, CardRef, Outbox, Route, Team
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_tiers import SlackTiers
from tests.helpers import prepared_config, raise_alert
from tests.jobs.test_delivery import Clock

ANA = Actor("U0ANA", "Ana", "slack")


def strict_worker(
    sessions: SessionFactory, slack: FakeSlackApi, clock: Clock, **kwargs: object
) -> DeliveryWorker:
    """The worker on `clock`, and Slack's tiers on the same clock (a test minute takes no minute)."""
    slack.tiers = SlackTiers(clock=lambda: clock.now.timestamp())
    chat = SlackChat(slack.token, base_url=slack.url, timeout=2.0)
    chat.pace_seconds = 0.0  # the tiers pace it here
    return DeliveryWorker(sessions, {"slack": chat}, clock=clock, **kwargs)  # type: ignore[arg-type]


async def settle(worker: DeliveryWorker, sessions: SessionFactory, clock: Clock, step: float = 1.0) -> int:
    """Drain, then a second later drain again, until nothing is pending; the seconds it took."""
    for seconds in range(900):
        await worker.drain()
        async with sessions() as session:
            pending = (await session.execute(select(Outbox).where(Outbox.status == "pending"))).first()  # type: ignore[arg-type]
        if pending is None:
            return seconds
        clock.advance(step)
    raise AssertionError("still pending after 900 s")


async def two_channels(sessions: SessionFactory) -> ConfigSnapshot:
    """The default team posts in C0A; alerts with location "b" go to C0B."""
    await prepared_config(sessions, slack_channel="C0A")
    async with transaction(sessions) as session:
        team = Team(name="team-b", slack_channel="C0B")
        session.add(team)
        await session.flush()
        session.add(Route(priority=1, match={"location": "b"}, team_id=team.id or 0))
    return await ConfigCache(sessions).get()


async def claim_all(sessions: SessionFactory, config: ConfigSnapshot, keys: list[str]) -> None:
    for key in keys:
        await handle(ActionRequest(ActionId.CLAIM, key, ANA), sessions=sessions, config=config, now=utcnow())


async def outbox(sessions: SessionFactory, kind: str) -> list[Outbox]:
    async with sessions() as session:
        return list((await session.execute(select(Outbox).where(Outbox.kind == kind))).scalars())  # type: ignore[arg-type]


async def test_a_429_on_chat_update_holds_every_update_while_posts_and_lines_go_on(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await two_channels(sessions)
    keys = [await raise_alert(sessions, config, external_id=f"a{i}") for i in range(2)]
    keys += [await raise_alert(sessions, config, external_id=f"b{i}", attributes={"location": "b"})
             for i in range(2)]
    clock = Clock()
    worker = strict_worker(sessions, slack, clock, group_threshold=100)
    await worker.drain()
    clock.advance(10)  # the channels' buckets fill up again
    await claim_all(sessions, config, keys)
    late = await raise_alert(sessions, config, external_id="b-late", attributes={"location": "b"})
    slack.fail_next(1, status=429, error="ratelimited", retry_after=30, method="chat.update")
    await worker.drain()
    assert [c.status for c in slack.calls("chat.update")] == [429], "no update anywhere after the 429"
    lines = [c for c in slack.calls("chat.postMessage") if c.args.get("thread_ts") and c.status == 200]
    assert sorted(c.args["channel"] for c in lines) == ["C0A", "C0A", "C0B", "C0B"], "lines carry on"
    assert any(late in str(c.args.get("text")) for c in slack.calls("chat.postMessage")), "posts carry on"
    held = await outbox(sessions, "card.update")
    assert len(held) == 4 and {(r.status, r.attempts) for r in held} == {("pending", 0)}, "not an attempt"
    assert {r.next_attempt_at for r in held} == {clock.now + timedelta(seconds=30)}
    clock.advance(30)
    await worker.drain()
    assert {r.status for r in await outbox(sessions, "card.update")} == {"done"}
    for channel in ("C0A", "C0B"):
        cards = [m for m in slack.messages_in(channel) if "thread_ts" not in m]
        claimed = [m for m in cards if "Ana" in json.dumps(m["blocks"])]
        assert len(claimed) == 2, channel


def drain_chat_update_tier(slack: FakeSlackApi) -> None:
    """Spend the workspace's whole minute of chat.update (Tier 3), as a busy app would have."""
    for _ in range(50):
        request = urllib.request.Request(
            slack.url + "chat.update", data=json.dumps({"channel": "C0X", "ts": "1.0"}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {slack.token}"},
        )
        with urllib.request.urlopen(request, timeout=5):
            pass


async def test_waiting_updates_go_most_urgent_first_under_tier_3(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await prepared_config(sessions, slack_channel="C0A")
    keys = [await raise_alert(sessions, config, external_id=f"u{i}") for i in range(8)]
    clock = Clock()
    worker = strict_worker(sessions, slack, clock, group_threshold=100)  # one card each, not a digest
    await settle(worker, sessions, clock)
    await claim_all(sessions, config, keys)
    # (overdue, severity) per alert, oldest first: most urgent are the overdue, then the most severe
    shape = [(False, "low"), (True, "normal"), (False, "critical"), (True, "critical"),
             (False, "high"), (False, "normal"), (True, "low"), (False, "critical")]
    async with transaction(sessions) as session:
        for key, (overdue, severity) in zip(keys, shape, strict=True):
            due = clock.now + timedelta(hours=-1 if overdue else 1)
            await session.execute(update(Alert).where(Alert.key == key).values(  # type: ignore[arg-type]
                severity=severity, resolve_due_at=due))
    rank = {"critical": 0, "high": 1, "normal": 2, "low": 3}
    expected = sorted(keys, key=lambda k: (not shape[keys.index(k)][0], rank[shape[keys.index(k)][1]],
                                           keys.index(k)))
    drain_chat_update_tier(slack)
    seconds = await settle(worker, sessions, clock)
    async with sessions() as session:
        refs = {r.message_id: r.alert_id for r in (await session.execute(select(CardRef))).scalars()}
        alert_keys = {a.id: a.key for a in (await session.execute(select(Alert))).scalars()}
    done = [c for c in slack.calls("chat.update") if c.status == 200 and not c.error]
    assert [alert_keys[refs[c.args["ts"]]] for c in done] == expected
    assert any(c.status == 429 for c in slack.calls("chat.update")), "the tier really held them"
    assert 8 <= seconds <= 20, "about 50 a minute: 8 updates take about ten seconds"
    assert {(r.status, r.attempts) for r in await outbox(sessions, "card.update")} == {("done", 1)}


async def test_a_digest_of_claimed_alerts_is_refreshed_once(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await prepared_config(sessions, slack_channel="C0A")
    keys = [await raise_alert(sessions, config, external_id=f"d{i}") for i in range(6)]
    clock = Clock()
    worker = strict_worker(sessions, slack, clock)
    await worker.drain()
    [digest] = [c for c in slack.calls("chat.postMessage") if c.status == 200]
    await claim_all(sessions, config, keys[:5])
    clock.now = max(clock.now, utcnow())  # the claims' rows are stamped with the real time: due by now
    clock.advance(2)
    await worker.drain()
    [refresh] = slack.calls("chat.update")
    assert refresh.args["ts"] == slack.messages_in("C0A")[0]["ts"] and digest.args["channel"] == "C0A"
    assert json.dumps(refresh.args["blocks"]).count("Ana") >= 5
    assert {r.status for r in await outbox(sessions, "card.update")} == {"done"}


async def test_a_paced_channel_posts_the_first_card_at_once_and_gathers_the_rest_for_its_next_slot(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await prepared_config(sessions, slack_channel="C0A")
    worker = DeliveryWorker(sessions, {"slack": SlackChat(slack.token, base_url=slack.url)})  # 1 post/s
    first = await raise_alert(sessions, config, external_id="p0")
    await worker.take_and_dispatch()
    for _ in range(100):  # the lane posts it in the background (the event loop must keep running)
        if slack.calls("chat.postMessage"):
            break
        await asyncio.sleep(0.02)
    assert len(slack.calls("chat.postMessage")) == 1
    later = [await raise_alert(sessions, config, external_id=f"p{i}") for i in (1, 2)]
    await worker.take_and_dispatch()  # the channel's second is not over: its rows stay in the table
    assert len(slack.calls("chat.postMessage")) == 1
    await worker.wait_idle()
    await worker.drain()
    card, digest = slack.calls("chat.postMessage")
    assert first in card.args["text"] and all(k in json.dumps(digest.args["blocks"]) for k in later)
    assert 0.95 <= digest.at - card.at < 1.5, "the next slot, a second after the first card"
    assert {c.status for c in slack.calls()} == {200}
