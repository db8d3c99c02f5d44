"""Fault injection: the outbox worker against a Slack and a Teams that fail ~30 % of the time.

`DeliveryWorker` drives the real `SlackChat` (against `FakeSlackApi`) and `TeamsChat` (against
`FakeBotConnector`) over loopback HTTP. Each fake gets a seeded script of answers — pass, 5xx, 429 with
`Retry-After`, or a timeout (the answer comes after the client's timeout, and the fake did nothing) —
composed from `fail_next` calls (a bare `fail_next(1)` / `delay_next(0)` is a pass). The worker runs
on a controllable clock: each step runs the due rows, then moves the clock to the next due row, and
every chat call is stamped with the clock time of its step. Checks: every card arrives exactly once per
destination, updates are applied, retries back off, `Retry-After` is honoured for that channel, and a
permanently bad channel never holds the others up.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from adapters.slack.chat import SlackChat
from adapters.teams.connector import TeamsChat
from bot.actions.table import ActionId, ActionRequest, handle
from bot.alerts.lifecycle import Actor
from bot.config.snapshot import ConfigCache, ConfigSnapshot
from bot.domain import utcnow
from jobs.delivery import DeliveryWorker
from storage.db import SessionFactory, transaction
from storage.models import AlertEvent, Outbox, Route, Team
from tests.fakes.bot_connector import ConversationRates, FakeBotConnector
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_tiers import SlackTiers
from tests.helpers import prepared_config, raise_alert

ANA = Actor("U0ANA", "Ana", "slack")
TIMEOUT = 0.3  # client timeout (s); a scripted timeout answers after TIMEOUT + 0.2
GOOD = {
    "a": ("C0A", "19:a@thread.tacv2"),
    "b": ("C0B", "19:b@thread.tacv2"),
    "c": ("C0C", "19:c@thread.tacv2"),
}


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


# ---- fault scripts ---------------------------------------------------------------------------


def script_slack(slack: FakeSlackApi, rng: random.Random, calls: int, rate: float = 0.3) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for _ in range(calls):
        roll = rng.random()
        if roll >= rate:
            slack.fail_next(1)  # a pass
            kinds["pass"] += 1
        elif roll < rate / 3:
            slack.fail_next(1, status=rng.choice([500, 502, 503]))
            kinds["5xx"] += 1
        elif roll < 2 * rate / 3:
            slack.fail_next(1, status=429, error="ratelimited", retry_after=rng.choice([1, 2, 3]))
            kinds["429"] += 1
        else:
            slack.fail_next(1, status=503, delay=TIMEOUT + 0.2)  # the client gave up; Slack did nothing
            kinds["timeout"] += 1
    return kinds


def script_teams(
    connector: FakeBotConnector, rng: random.Random, calls: int, rate: float = 0.3
) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for _ in range(calls):
        roll = rng.random()
        if roll >= rate:
            connector.delay_next(0.0)  # a pass
            kinds["pass"] += 1
        elif roll < rate / 3:
            connector.fail_next(rng.choice([500, 502, 503]))
            kinds["5xx"] += 1
        elif roll < 2 * rate / 3:
            connector.fail_next(429, retry_after=rng.choice([1, 2, 3]))
            kinds["429"] += 1
        else:
            connector.fail_next(503, delay=TIMEOUT + 0.2)
            kinds["timeout"] += 1
    return kinds


# ---- the stepping harness ----------------------------------------------------------------------


@dataclass
class Stamped:
    at: datetime
    platform: str
    channel: str  # Slack channel / Teams channel id or conversation
    method: str
    status: int
    args: Any


@dataclass
class Attempt:
    at: datetime
    next_at: datetime | None  # when the row was rescheduled for (None: done/failed)
    error: str | None


@dataclass
class Harness:
    sessions: SessionFactory
    slack: FakeSlackApi
    connector: FakeBotConnector | None
    clock: Clock
    worker: DeliveryWorker
    calls: list[Stamped] = field(default_factory=list)
    attempts: dict[int, list[Attempt]] = field(default_factory=lambda: defaultdict(list))
    _seen: tuple[int, int] = (0, 0)
    _attempts_seen: dict[int, int] = field(default_factory=dict)

    async def step(self) -> int:
        taken = await self.worker.run_once()
        self._stamp()
        await self._track_attempts()
        return taken

    def _stamp(self) -> None:
        slack_calls = self.slack.calls()
        teams_calls = self.connector.calls() if self.connector else []
        for call in slack_calls[self._seen[0] :]:  # an `ok: false` answer counts as a failure (400)
            status = 400 if call.error and call.status == 200 else call.status
            self.calls.append(
                Stamped(
                    self.clock.now, "slack", str(call.args.get("channel", "")), call.method, status, call.args
                )
            )
        for tcall in teams_calls[self._seen[1] :]:
            channel = (
                str(
                    ((tcall.body or {}).get("channelData") or {}).get("channel", {}).get("id")
                    or (tcall.conversation or "").split(";")[0]
                )
                if isinstance(tcall.body, dict)
                else ""
            )
            self.calls.append(
                Stamped(
                    self.clock.now, "teams", channel, f"{tcall.method} {tcall.path}", tcall.status, tcall.body
                )
            )
        self._seen = (len(slack_calls), len(teams_calls))

    async def _track_attempts(self) -> None:
        async with self.sessions() as session:
            for row in (await session.execute(select(Outbox))).scalars():
                assert row.id is not None
                before = self._attempts_seen.get(row.id, 0)
                if row.attempts > before:
                    pending = row.status == "pending"
                    self.attempts[row.id].append(
                        Attempt(self.clock.now, row.next_attempt_at if pending else None, row.last_error)
                    )
                self._attempts_seen[row.id] = row.attempts

    async def pending(self) -> list[Outbox]:
        async with self.sessions() as session:
            query = select(Outbox).where(Outbox.status == "pending")  # type: ignore[arg-type]
            return list((await session.execute(query)).scalars().all())

    async def run_until_quiet(self, *, max_steps: int = 400) -> int:
        """Run due rows; jump the clock to the next due row; until nothing is pending. Returns steps."""
        for steps in range(max_steps):
            await self.step()
            pending = await self.pending()
            if not pending:
                return steps + 1
            next_due = min(r.next_attempt_at for r in pending)
            if next_due > self.clock.now:
                self.clock.now = next_due
        raise AssertionError(f"still pending after {max_steps} steps: {await self.pending()}")


def harness(
    sessions: SessionFactory,
    slack: FakeSlackApi,
    connector: FakeBotConnector | None,
    *,
    group_threshold: int = 100,
) -> Harness:
    clock = Clock()
    # the platforms' rate limits run on the harness's clock, like the worker's retries
    slack.tiers = SlackTiers(clock=lambda: clock.now.timestamp())
    if connector is not None:
        connector.rates = ConversationRates(clock=lambda: clock.now.timestamp())
    chats: dict[str, Any] = {}
    chat = SlackChat(slack.token, base_url=slack.url, timeout=TIMEOUT)
    chat.pace_seconds = 0.0
    chats["slack"] = chat
    if connector is not None:
        chats["teams"] = TeamsChat(
            service_url=connector.url, token_provider=None, tenant_id="t1", timeout=TIMEOUT
        )
    worker = DeliveryWorker(sessions, chats, clock=clock, group_threshold=group_threshold)
    return Harness(sessions, slack, connector, clock, worker)


async def teams_setup(sessions: SessionFactory, spec: dict[str, tuple[str, str | None]]) -> ConfigSnapshot:
    """The default team posts to spec["a"]; every other name gets a team and a route on attr.location."""
    await prepared_config(sessions, slack_channel=spec["a"][0])
    async with transaction(sessions) as session:
        default = (await session.execute(select(Team))).scalars().first()
        assert default is not None
        default.teams_channel = spec["a"][1]
        for name, (slack_channel, teams_channel) in spec.items():
            if name == "a":
                continue
            team = Team(name=f"team-{name}", slack_channel=slack_channel, teams_channel=teams_channel)
            session.add(team)
            await session.flush()
            session.add(Route(priority=1, match={"location": name}, team_id=team.id or 0))
    return await ConfigCache(sessions).get()


async def raise_in(
    sessions: SessionFactory, config: ConfigSnapshot, team: str, n: int, prefix: str
) -> list[str]:
    extra = {} if team == "a" else {"attributes": {"location": team}}
    return [
        await raise_alert(sessions, config, external_id=f"{prefix}-{team}-{i}", **extra) for i in range(n)
    ]


def slack_card_posts(h: Harness, channel: str) -> list[Stamped]:
    return [
        c
        for c in h.calls
        if c.platform == "slack"
        and c.method == "chat.postMessage"
        and c.status == 200
        and c.channel == channel
        and not c.args.get("thread_ts")
    ]


def teams_card_posts(h: Harness, channel: str) -> list[Stamped]:
    return [
        c
        for c in h.calls
        if c.platform == "teams"
        and c.method == "POST /v3/conversations"
        and c.status < 300
        and c.channel == channel
    ]


def mentions(calls: list[Stamped], key: str) -> int:
    return sum(key in json.dumps(c.args) for c in calls)


# ---- tests -------------------------------------------------------------------------------------


async def test_thirty_percent_faults_every_card_arrives_once_per_destination_and_updates_apply(
    sessions: SessionFactory, slack: FakeSlackApi, connector: FakeBotConnector
) -> None:
    config = await teams_setup(sessions, dict(GOOD))
    rng = random.Random(20261122)
    slack_kinds = script_slack(slack, rng, 400)
    teams_kinds = script_teams(connector, rng, 400)
    keys = {team: await raise_in(sessions, config, team, 6, "f") for team in GOOD}
    h = harness(sessions, slack, connector)
    await h.run_until_quiet()
    for team, (slack_channel, teams_channel) in GOOD.items():
        for key in keys[team]:
            assert mentions(slack_card_posts(h, slack_channel), key) == 1, f"{key} on Slack {slack_channel}"
            assert mentions(teams_card_posts(h, teams_channel), key) == 1, f"{key} on Teams {teams_channel}"
    # every alert claimed, with a note: card updates and thread lines go through the same faults
    every = [k for ks in keys.values() for k in ks]
    for key in every:
        await handle(
            ActionRequest(ActionId.CLAIM, key, ANA), sessions=sessions, config=config, now=utcnow()
        )
        await handle(
            ActionRequest(ActionId.NOTE, key, ANA, {"note": f"called {key}"}),
            sessions=sessions,
            config=config,
            now=utcnow(),
        )
    await h.run_until_quiet()
    for team, (slack_channel, _teams_channel) in GOOD.items():
        top = [m for m in slack.messages_in(slack_channel) if not m.get("thread_ts")]
        for key in keys[team]:
            [card] = [m for m in top if key in m.get("text", "")]
            assert "Ana" in json.dumps(card["blocks"]), f"the claim reached {key}'s Slack card"
            lines = [m for m in slack.messages_in(slack_channel) if m.get("thread_ts") == card["ts"]]
            assert sum(f"called {key}" in m.get("text", "") for m in lines) >= 1, (
                f"{key}'s note in its thread"
            )
    for key in every:  # the last successful Teams replacement of the card shows the owner
        puts = [
            c
            for c in h.calls
            if c.platform == "teams"
            and c.method.startswith("PUT")
            and c.status < 300
            and key in json.dumps(c.args)
        ]
        assert puts and "Ana" in json.dumps(puts[-1].args), f"the claim reached {key}'s Teams card"
    async with sessions() as session:
        statuses = {r.status for r in (await session.execute(select(Outbox))).scalars()}
        failed = [
            e for e in (await session.execute(select(AlertEvent))).scalars() if e.kind == "delivery_failed"
        ]
    assert statuses == {"done"} and not failed
    faulty = [c for c in h.calls if c.status >= 400]
    assert len(faulty) >= 10, f"the faults really happened: {slack_kinds} {teams_kinds}"


async def test_retries_back_off_and_are_never_early(
    sessions: SessionFactory, slack: FakeSlackApi, connector: FakeBotConnector
) -> None:
    config = await teams_setup(sessions, dict(GOOD))
    rng = random.Random(7)
    script_slack(slack, rng, 300, rate=0.5)
    script_teams(connector, rng, 300, rate=0.5)
    for team in GOOD:
        await raise_in(sessions, config, team, 4, "b")
    h = harness(sessions, slack, connector)
    await h.run_until_quiet()
    retried = 0
    for row_id, attempts in h.attempts.items():
        for before, after in itertools.pairwise(attempts):
            assert before.next_at is not None
            assert after.at >= before.next_at, f"row {row_id} retried before it was due"
            gap = (after.at - before.at).total_seconds()
            assert gap >= 1.0 - 1e-6, f"row {row_id} retried after {gap:.2f}s"
            retried += 1
        for n, attempt in enumerate(attempts, start=1):
            if attempt.next_at is None or attempt.error == "ratelimited" or "429" in (attempt.error or ""):
                continue
            delay = (attempt.next_at - attempt.at).total_seconds()
            assert 1.0 - 1e-6 <= delay <= 2.0**n + 1e-6, f"row {row_id} attempt {n}: backoff {delay:.2f}s"
    assert retried >= 5, "enough retries happened to say something"


async def test_retry_after_holds_back_only_that_channel(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await teams_setup(sessions, {"a": ("C0A", None), "b": ("C0B", None)})
    slack.fail_next(
        1, status=429, error="ratelimited", retry_after=7, method="chat.postMessage", channel="C0A"
    )
    await raise_in(sessions, config, "a", 2, "r")
    await raise_in(sessions, config, "b", 2, "r")
    h = harness(sessions, slack, None)
    start = h.clock.now
    await h.run_until_quiet()
    limited = [c for c in h.calls if c.status == 429]
    assert len(limited) == 1 and limited[0].channel == "C0A" and limited[0].at == start
    later_a = [c for c in h.calls if c.channel == "C0A" and c is not limited[0]]
    assert later_a and all(c.at >= start + timedelta(seconds=7) for c in later_a), "Retry-After honoured"
    b_posts = slack_card_posts(h, "C0B")
    assert len(b_posts) == 2 and all(c.at == start for c in b_posts), "C0B did not wait for C0A"


async def test_retry_after_also_holds_back_thread_replies_in_that_channel(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await teams_setup(sessions, {"a": ("C0A", None)})
    [old] = await raise_in(sessions, config, "a", 1, "old")
    h = harness(sessions, slack, None)
    await h.run_until_quiet()
    slack.fail_next(
        1, status=429, error="ratelimited", retry_after=30, method="chat.postMessage", channel="C0A"
    )
    await raise_in(sessions, config, "a", 1, "new")
    h.clock.now = max(h.clock.now, utcnow())  # its row is stamped with the real time: due now, not later
    await h.step()  # the new card gets the 429 for C0A
    at = h.clock.now
    await handle(
        ActionRequest(ActionId.NOTE, old, ANA, {"note": "hello"}),
        sessions=sessions,
        config=config,
        now=utcnow(),
    )
    h.clock.now = max(h.clock.now, utcnow())  # the note's rows are stamped with the real time
    await h.step()  # a moment later: the thread line for C0A should wait too
    early = [
        c
        for c in h.calls
        if c.channel == "C0A"
        and c.at < at + timedelta(seconds=30)
        and c.status != 429
        and c.args.get("thread_ts")
    ]
    assert not early, f"{len(early)} postMessage call(s) to C0A inside its Retry-After"


@pytest.mark.parametrize(
    "bad", [{"status": 500}, {"error": "channel_not_found"}], ids=["always-500", "not-found"]
)
async def test_a_permanently_bad_channel_never_holds_up_the_others(
    sessions: SessionFactory, slack: FakeSlackApi, connector: FakeBotConnector, bad: dict[str, Any]
) -> None:
    spec = {"a": ("C0A", "19:a@thread.tacv2"), "bad": ("C0BAD", None), "b": ("C0B", "19:b@thread.tacv2")}
    config = await teams_setup(sessions, spec)
    slack.fail_next(10_000, channel="C0BAD", **bad)
    rng = random.Random(3)
    script_teams(connector, rng, 100, rate=0.3)
    bad_keys = await raise_in(sessions, config, "bad", 8, "x")
    good = {t: await raise_in(sessions, config, t, 3, "g") for t in ("a", "b")}
    h = harness(sessions, slack, connector, group_threshold=4)
    start = h.clock.now
    first_steps = 0
    while True:  # good channels: all their cards within a few steps and at most ~a minute of backoff
        await h.step()
        first_steps += 1
        done = all(
            mentions(slack_card_posts(h, spec[t][0]), k) == 1
            and mentions(teams_card_posts(h, spec[t][1] or ""), k) == 1
            for t, ks in good.items()
            for k in ks
        )
        if done:
            break
        pending = await h.pending()
        assert first_steps < 30, "the good channels did not complete"
        h.clock.now = max(h.clock.now, min(r.next_attempt_at for r in pending))
    assert h.clock.now - start < timedelta(seconds=300), f"good channels took {h.clock.now - start}"
    await h.run_until_quiet(max_steps=200)  # the bad channel ends failed, reported, not pending forever
    async with sessions() as session:
        rows = list((await session.execute(select(Outbox))).scalars())
        events = [
            e for e in (await session.execute(select(AlertEvent))).scalars() if e.kind == "delivery_failed"
        ]
    bad_rows = [r for r in rows if r.destination == "C0BAD"]
    assert bad_rows and {r.status for r in bad_rows} == {"failed"}
    assert {r.status for r in rows if r.destination != "C0BAD"} == {"done"}
    assert len(events) == len(bad_rows) == len(bad_keys)
    assert all(e.data["destination"] == "C0BAD" for e in events)


async def test_a_hanging_channel_delays_the_others_by_at_most_its_timeouts(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    """Real time: C0HANG never answers in time; C0A's cards raised meanwhile arrive within a bounded time."""
    config = await teams_setup(sessions, {"a": ("C0A", None), "hang": ("C0HANG", None)})
    slack.fail_next(1000, status=503, delay=TIMEOUT + 0.2, channel="C0HANG")
    await raise_in(sessions, config, "hang", 3, "h")
    chat = SlackChat(slack.token, base_url=slack.url, timeout=TIMEOUT)
    chat.pace_seconds = 0.0
    worker = DeliveryWorker(sessions, {"slack": chat}, group_threshold=100, poll_seconds=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.sleep(0.1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        [key] = await raise_in(sessions, config, "a", 1, "late")
        worker.signal.notify()
        arrived = await asyncio.to_thread(
            slack.wait_for, lambda: any(key in str(m.get("text")) for m in slack.messages_in("C0A")), 10.0
        )
        waited = loop.time() - started
    finally:
        stop.set()
        worker.signal.notify()
        await asyncio.wait_for(task, 10)
    assert arrived, "the good channel's card never arrived while another channel hung"
    # bounded by the hanging lane's timeouts in the batch that was running (3 rows × TIMEOUT), plus slack
    assert waited < 3 * TIMEOUT + 1.5, f"the good channel waited {waited:.2f}s behind the hanging one"
