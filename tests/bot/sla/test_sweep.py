"""The SLA sweep, by time travel: every call passes `now`; SQLite and PostgreSQL (see conftest)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.alerts.lifecycle import SYSTEM, Actor, apply, plan_claim, plan_escalate, plan_snooze
from bot.config.snapshot import ConfigCache, ConfigSnapshot
from bot.digests import DIGEST_KIND, build_team_digests, digest_from_payload, enqueue_due_digests
from bot.domain import FeedbackIn
from bot.ingest.accept import ingest
from bot.settings import Settings
from bot.sla_sweep import SweepOptions, SweepResult, heads_up_at, parse_quiet_hours, sweep
from storage.db import SessionFactory, create_engine_for, session_factory, transaction
from storage.models import Alert, AlertEvent, EscalationStep, Outbox, Team
from tests.helpers import prepared_config

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday
ANA = Actor("U0ANA", "Ana", "slack")
WEEKDAYS_9_TO_6 = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}


async def new_alert(
    sessions: SessionFactory, config: ConfigSnapshot, *, at: datetime = T0, external_id: str = "r-1"
) -> str:
    """A critical alert (NPS 2 + alarming word) raised at `at` through the real ingest path."""
    item = FeedbackIn(external_id=external_id, nps=2, comment="rude staff")
    result = await ingest(
        sessions, source_id=1, source_name="web", item=item, config=config, alarming_words=["rude"], now=at
    )
    assert result.alert_key is not None
    await arm(sessions, config, result.alert_key)
    return result.alert_key


async def arm(sessions: SessionFactory, config: ConfigSnapshot, key: str) -> None:
    """What bot/ingest/accept.py should do when it creates an alert (see the report): wake the sweep for the
    heads-up. A no-op once ingest sets `next_nag_at` itself."""
    async with transaction(sessions) as session:
        alert = (await session.execute(select(Alert).where(Alert.key == key))).scalar_one()
        if alert.next_nag_at is None and alert.claim_due_at is not None:
            wake = heads_up_at(alert.created_at, alert.claim_due_at, config.team(alert.team_id).hours)
            alert.next_nag_at = alert.next_due_at = wake


async def load(sessions: SessionFactory, key: str) -> tuple[Alert, list[AlertEvent], list[Outbox]]:
    async with sessions() as session:
        alert = (await session.execute(select(Alert).where(Alert.key == key))).scalar_one()
        events = (
            (
                await session.execute(
                    select(AlertEvent).where(AlertEvent.alert_id == alert.id).order_by(AlertEvent.id)
                )
            )
            .scalars()
            .all()
        )
        rows = (
            (await session.execute(select(Outbox).where(Outbox.alert_id == alert.id).order_by(Outbox.id)))
            .scalars()
            .all()
        )
    return alert, list(events), list(rows)


def kinds(events: list[AlertEvent]) -> list[str]:
    return [e.kind for e in events]


def lines(rows: list[Outbox]) -> list[tuple[str, str | None]]:
    return [(r.payload["text"], r.payload.get("mention")) for r in rows if r.kind == "thread.reply"]


async def at(sessions: SessionFactory, config: ConfigSnapshot, when: datetime, **options: Any) -> SweepResult:
    return await sweep(sessions, config=config, now=when, options=SweepOptions(**options))


async def set_team(sessions: SessionFactory, **values: Any) -> ConfigSnapshot:
    async with transaction(sessions) as session:
        await session.execute(update(Team).values(**values))
    return await ConfigCache(sessions).get()


async def test_critical_claim_clock_heads_up_breach_nags_then_silence(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions, slack_channel="C0TEAM", managers_channel="C0MGRS")
    key = await new_alert(sessions, config)
    m = lambda minutes, seconds=0: T0 + timedelta(minutes=minutes, seconds=seconds)  # noqa: E731

    assert (await at(sessions, config, m(10))).taken == 0
    assert (await at(sessions, config, m(11, 14))).taken == 0
    assert (await at(sessions, config, m(11, 15))).heads_up == 1
    assert (await at(sessions, config, m(11, 15))).taken == 0
    assert (await at(sessions, config, m(14, 59))).taken == 0
    alert, events, rows = await load(sessions, key)
    assert kinds(events) == ["created", "heads_up"]
    assert lines(rows) == [("Heads-up: claim due in 3 min", None)]
    assert alert.next_due_at == m(15)

    breach = await at(sessions, config, m(15))
    assert (breach.breached, breach.steps) == (1, 1)
    assert (await at(sessions, config, m(15))).taken == 0
    alert, events, rows = await load(sessions, key)
    assert events[-1].kind == "breached" and events[-1].data["clock"] == "claim"
    assert lines(rows)[-1] == ("SLA breach: claim was due Wed 10:15 UTC · escalated to level 1", "channel")
    managers = [(r.destination, r.payload["audience"]) for r in rows if r.kind == "card.post"]
    assert ("C0MGRS", "managers") in managers
    assert (alert.escalation_level, alert.nag_count, alert.next_due_at) == (1, 1, m(45))
    assert not [r for r in rows if r.kind == "dm"]  # nobody owns it yet

    for minute in (44, 45, 45, 74, 75, 105, 134, 135, 200, 24 * 60):
        await at(sessions, config, m(minute))
    alert, events, rows = await load(sessions, key)
    assert kinds(events) == ["created", "heads_up", "breached", "nagged", "nagged", "nagged"]
    assert [e.at for e in events if e.kind == "nagged"] == [m(45), m(75), m(105)]
    assert [text for text, _ in lines(rows)][-1] == "Reminder 3/3: claim overdue 90 min"
    assert (alert.nag_count, alert.next_nag_at, alert.next_due_at) == (4, None, None)


async def test_claim_after_silence_starts_the_resolve_clock_with_a_dm(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions, slack_channel="C0TEAM")
    key = await new_alert(sessions, config)
    for minute in (15, 45, 75, 105):
        await at(sessions, config, T0 + timedelta(minutes=minute))
    assert (
        await apply(sessions, key=key, actor=ANA, now=T0 + timedelta(hours=2), plan=plan_claim(ANA, T0))
    ).ok
    alert, _, _ = await load(sessions, key)
    assert alert.next_due_at == T0 + timedelta(hours=4)  # the resolve deadline (critical: 4 h)
    assert (await at(sessions, config, T0 + timedelta(hours=4))).breached == 1
    alert, events, rows = await load(sessions, key)
    assert events[-1].data == {
        "clock": "resolve",
        "due": (T0 + timedelta(hours=4)).isoformat(),
        "level": 2,
        "owner": "U0ANA",
        "version": alert.version,
    }
    assert lines(rows)[-1] == ("SLA breach: resolve was due Wed 14:00 UTC · escalated to level 2", "U0ANA")
    dms = [(r.platform, r.destination) for r in rows if r.kind == "dm"]
    assert dms == [("slack", "U0ANA")]


async def test_claimed_early_gets_the_resolve_heads_up_at_75_percent(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    key = await new_alert(sessions, config)
    await apply(sessions, key=key, actor=ANA, now=T0 + timedelta(minutes=1), plan=plan_claim(ANA, T0))
    result = await at(sessions, config, T0 + timedelta(minutes=12))  # the claim heads-up time: nothing to say
    assert (result.steps, result.rescheduled) == (0, 1)
    assert (await at(sessions, config, T0 + timedelta(hours=3))).heads_up == 1
    _, events, rows = await load(sessions, key)
    assert kinds(events) == ["created", "claimed", "heads_up"]
    assert lines(rows)[-1] == ("Heads-up: resolve due in 60 min", "U0ANA")


async def test_business_hours_carry_the_clock_over_the_weekend(sessions: SessionFactory) -> None:
    await prepared_config(sessions)
    config = await set_team(sessions, timezone="Europe/Paris", business_hours=WEEKDAYS_9_TO_6)
    friday = datetime(2026, 3, 6, 16, 50, tzinfo=UTC)  # 17:50 in Paris
    key = await new_alert(sessions, config, at=friday)
    alert, _, _ = await load(sessions, key)
    monday_0905 = datetime(2026, 3, 9, 8, 5, tzinfo=UTC)
    assert alert.claim_due_at == monday_0905
    assert alert.next_due_at == datetime(2026, 3, 9, 8, 1, 15, tzinfo=UTC)  # 11m15s of open time
    for when in (
        friday + timedelta(minutes=15),
        datetime(2026, 3, 7, 12, 0, tzinfo=UTC),
        datetime(2026, 3, 9, 7, 59, tzinfo=UTC),
    ):
        assert (await at(sessions, config, when)).taken == 0
    assert (await at(sessions, config, datetime(2026, 3, 9, 8, 1, 15, tzinfo=UTC))).heads_up == 1
    assert (await at(sessions, config, monday_0905 - timedelta(seconds=1))).taken == 0
    assert (await at(sessions, config, monday_0905)).breached == 1


@pytest.mark.parametrize("reason", ["Waiting on customer", "waiting_on_customer"])
async def test_waiting_on_customer_snooze_pauses_the_resolve_clock(
    sessions: SessionFactory, reason: str
) -> None:
    config = await prepared_config(sessions)
    key = await new_alert(sessions, config)
    await apply(sessions, key=key, actor=ANA, now=T0 + timedelta(minutes=5), plan=plan_claim(ANA, T0))
    snoozed_at, until = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    assert (
        await apply(
            sessions, key=key, actor=ANA, now=snoozed_at, plan=plan_snooze(ANA, snoozed_at, until, reason)
        )
    ).ok
    assert (await at(sessions, config, until - timedelta(seconds=1))).taken == 0
    assert (await at(sessions, config, until)).woke == 1
    alert, events, rows = await load(sessions, key)
    assert (alert.status, alert.snoozed_until, alert.snooze_reason) == ("claimed", None, None)
    assert alert.resolve_due_at == T0 + timedelta(hours=6)  # 4 h + the 2 h spent waiting
    assert events[-1].data["paused_seconds"] == 7200
    assert "resolve clock paused 2 h" in lines(rows)[-1][0]
    assert (await at(sessions, config, T0 + timedelta(hours=4))).taken == 0  # the old deadline passes quietly
    assert (await at(sessions, config, T0 + timedelta(hours=4, minutes=30))).heads_up == 1
    assert (await at(sessions, config, T0 + timedelta(hours=6))).breached == 1


async def test_other_snoozes_do_not_pause_the_clock(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    key = await new_alert(sessions, config)
    await apply(sessions, key=key, actor=ANA, now=T0, plan=plan_claim(ANA, T0))
    until = T0 + timedelta(hours=5)
    await apply(
        sessions,
        key=key,
        actor=ANA,
        now=T0 + timedelta(hours=1),
        plan=plan_snooze(ANA, T0 + timedelta(hours=1), until, "on leave"),
    )
    result = await at(sessions, config, until)
    assert (result.woke, result.breached) == (1, 1)  # woke past its deadline: the breach follows at once
    alert, events, _ = await load(sessions, key)
    assert alert.resolve_due_at == T0 + timedelta(hours=4)
    assert kinds(events)[-2:] == ["woke", "breached"]


async def test_escalation_chain_fires_each_level_after_its_delay(sessions: SessionFactory) -> None:
    await prepared_config(sessions, slack_channel="C0TEAM", managers_channel="C0MGRS")
    async with transaction(sessions) as session:
        team_id = (await session.execute(select(Team.id))).scalar_one()
        for level, after, platform, to in (
            (1, 0, "slack", "C0LEAD"),
            (2, 600, "slack", "C0OPS"),
            (3, 3600, "teams", "19:vp@thread"),
        ):
            session.add(
                EscalationStep(
                    team_id=team_id,
                    level=level,
                    after_seconds=after,
                    platform=platform,
                    destination=to,
                    description=f"level {level}",
                )
            )
    config = await ConfigCache(sessions).get()
    key = await new_alert(sessions, config)
    manual = await new_alert(sessions, config, external_id="r-2")
    due = T0 + timedelta(minutes=15)
    assert (await at(sessions, config, due)).breached == 2
    assert (
        await apply(
            sessions,
            key=manual,
            actor=ANA,
            now=due + timedelta(minutes=2),
            plan=plan_escalate(ANA, due, config, "VIP"),
        )
    ).ok  # the card's button: level 2 now
    assert (await at(sessions, config, due + timedelta(minutes=9, seconds=59))).escalated == 0
    assert (
        await at(sessions, config, due + timedelta(minutes=10))
    ).escalated == 1  # only `key` needs level 2
    assert (await at(sessions, config, due + timedelta(minutes=59))).escalated == 0
    assert (await at(sessions, config, due + timedelta(minutes=60))).escalated == 2
    for name, expected in (
        (key, ["C0LEAD", "C0OPS", "19:vp@thread"]),
        (manual, ["C0LEAD", "C0OPS", "19:vp@thread"]),
    ):
        alert, events, rows = await load(sessions, name)
        posts = [r.destination for r in rows if r.kind == "card.post" and r.payload["audience"] == "managers"]
        assert posts == expected and alert.escalation_level == 3
    _, events, _ = await load(sessions, key)
    assert [e.data.get("level") for e in events if e.kind in ("breached", "escalated")] == [1, 2, 3]
    _, events, _ = await load(sessions, manual)
    assert [(e.kind, e.actor_id) for e in events if e.kind == "escalated"] == [
        ("escalated", "U0ANA"),
        ("escalated", SYSTEM.id),
    ]


async def test_quiet_hours_push_a_nag_to_their_end(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    late = datetime(2026, 3, 4, 21, 30, tzinfo=UTC)
    key = await new_alert(sessions, config, at=late)  # breach at 21:45, first nag would be 22:15
    quiet = {"quiet_hours": parse_quiet_hours("22:00-07:00")}
    await at(sessions, config, late + timedelta(minutes=15), **quiet)
    assert (await at(sessions, config, late + timedelta(minutes=45), **quiet)).nagged == 0
    alert, _, _ = await load(sessions, key)
    assert alert.next_due_at == datetime(2026, 3, 5, 7, 0, tzinfo=UTC)
    assert (await at(sessions, config, datetime(2026, 3, 5, 7, 0, tzinfo=UTC), **quiet)).nagged == 1
    assert parse_quiet_hours("") is None
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        parse_quiet_hours("late")


async def test_options_come_from_settings_when_present() -> None:
    custom = Settings(sla_nag_seconds=600, sla_nag_cap=5, sla_quiet_hours="23:00-06:00")
    options = SweepOptions.from_settings(custom)
    assert (options.nag_seconds, options.nag_cap, options.quiet_hours) == (600, 5, (time(23), time(6)))
    assert SweepOptions.from_settings(Settings()) == SweepOptions()


async def test_a_second_sweep_at_the_same_instant_does_nothing(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    keys = [await new_alert(sessions, config, external_id=f"r-{i}") for i in range(30)]
    first = await sweep(sessions, config=config, now=T0 + timedelta(minutes=20), batch=7)
    assert first.taken == 7
    total = first
    while (more := await sweep(sessions, config=config, now=T0 + timedelta(minutes=20), batch=7)).taken:
        total.add(more)
    assert total.breached == 30 and more.steps == 0
    for key in keys:
        _, events, _ = await load(sessions, key)
        assert kinds(events) == ["created", "breached"]  # past the heads-up time already: no heads-up


async def test_two_concurrent_sweeps_fire_each_step_once(
    sessions: SessionFactory, engine: AsyncEngine, database_url: str
) -> None:
    config = await prepared_config(sessions)
    keys = [await new_alert(sessions, config, external_id=f"r-{i}") for i in range(40)]
    other_engine = create_engine_for(database_url)
    other = session_factory(other_engine)
    try:
        for when in (T0 + timedelta(minutes=12), T0 + timedelta(minutes=15), T0 + timedelta(minutes=45)):
            results = await asyncio.gather(
                *(sweep(s, config=config, now=when, batch=10) for s in (sessions, other, sessions, other))
            )
            assert sum(r.steps for r in results) == 40
    finally:
        await other_engine.dispose()
    for key in keys:
        _, events, rows = await load(sessions, key)
        assert kinds(events) == ["created", "heads_up", "breached", "nagged"]
        assert len(lines(rows)) == 3


async def test_daily_digest_once_per_team_and_day(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions, slack_channel="C0TEAM", managers_channel="C0MGRS")
    config = await set_team(sessions, timezone="Europe/Paris")
    keys = [
        await new_alert(sessions, config, at=T0 + timedelta(minutes=i), external_id=f"r-{i}")
        for i in range(7)
    ]
    await apply(sessions, key=keys[0], actor=ANA, now=T0 + timedelta(minutes=3), plan=plan_claim(ANA, T0))
    morning = datetime(2026, 3, 5, 8, 30, tzinfo=UTC)  # 09:30 in Paris, the next day
    assert (
        await enqueue_due_digests(sessions, now=morning - timedelta(hours=1)) == 0
    )  # 08:30 local: too early
    counts = await asyncio.gather(*(enqueue_due_digests(sessions, now=morning) for _ in range(3)))
    assert sum(counts) == 1
    assert await enqueue_due_digests(sessions, now=morning + timedelta(hours=2)) == 0
    assert await enqueue_due_digests(sessions, now=morning + timedelta(days=1)) == 1
    async with sessions() as session:
        rows = (await session.execute(select(Outbox).where(Outbox.kind == DIGEST_KIND))).scalars().all()
    assert [(r.platform, r.destination) for r in rows] == [("slack", "C0MGRS")] * 2
    card = digest_from_payload(rows[0].payload)
    figures = dict(card.figures)
    assert (figures["Open"], figures["Claimed"], figures["Breached"]) == ("6", "1", "7")
    assert figures["Responded to (7 days)"] == "14 %"
    assert [item.alert_key for item in card.items] == keys[1:6] and card.more == 1
    assert "Claim overdue" in card.items[0].summary
    assert card == (await build_team_digests(sessions, now=morning))[0][2]


@pytest.mark.parametrize(("claimed", "heads_up_after", "line"), [
    (False, timedelta(minutes=11, seconds=15), "Heads-up: claim due in 3 min"),
    (True, timedelta(hours=3), "Heads-up: resolve due in 60 min"),
])
async def test_a_reopened_alert_gets_a_fresh_clock_with_its_heads_up(
    sessions: SessionFactory, claimed: bool, heads_up_after: timedelta, line: str
) -> None:
    from bot.alerts.lifecycle import plan_reopen, plan_resolve
    from bot.domain import Outcome

    config = await prepared_config(sessions, slack_channel="C0TEAM", admins=["U0ANA"])
    key = await new_alert(sessions, config)
    if claimed:
        assert (await apply(sessions, key=key, actor=ANA, now=T0, plan=plan_claim(ANA, T0))).ok
    resolve = plan_resolve(ANA, T0, config, Outcome.RECOVERED, None, None)
    assert (await apply(sessions, key=key, actor=ANA, now=T0 + timedelta(minutes=2), plan=resolve)).ok
    reopened_at = T0 + timedelta(days=1)
    reopen = plan_reopen(ANA, reopened_at, config)
    assert (await apply(sessions, key=key, actor=ANA, now=reopened_at, plan=reopen)).ok
    alert, _, _ = await load(sessions, key)
    assert alert.next_due_at == reopened_at + heads_up_after
    assert (await at(sessions, config, reopened_at + heads_up_after - timedelta(seconds=1))).taken == 0
    assert (await at(sessions, config, reopened_at + heads_up_after)).heads_up == 1
    _, events, rows = await load(sessions, key)
    assert kinds(events)[-2:] == ["reopened", "heads_up"]
    assert lines(rows)[-1][0] == line


@pytest.mark.parametrize(("reason", "resolve_due"), [
    ("waiting on customer", T0 + timedelta(hours=5)),  # 4 h + the hour spent waiting before the claim
    ("on leave", T0 + timedelta(hours=4)),
])
async def test_a_claim_that_ends_a_snooze_early_credits_the_wait_on_the_customer(
    sessions: SessionFactory, reason: str, resolve_due: datetime
) -> None:
    config = await prepared_config(sessions)
    key = await new_alert(sessions, config)
    snoozed_at, until = T0 + timedelta(minutes=5), T0 + timedelta(hours=3)
    snooze = plan_snooze(ANA, snoozed_at, until, reason)
    assert (await apply(sessions, key=key, actor=ANA, now=snoozed_at, plan=snooze)).ok
    claimed_at = snoozed_at + timedelta(hours=1)
    claim = plan_claim(ANA, claimed_at, config)
    assert (await apply(sessions, key=key, actor=ANA, now=claimed_at, plan=claim)).ok
    alert, events, rows = await load(sessions, key)
    assert (alert.status, alert.snoozed_until, alert.snoozed_at) == ("claimed", None, None)
    assert alert.resolve_due_at == resolve_due
    paused = events[-1].data.get("paused_seconds")
    assert paused == (3600 if reason == "waiting on customer" else None)
    assert ("resolve clock paused 60 min" in lines(rows)[-1][0]) == (paused is not None)
    assert (await at(sessions, config, until)).woke == 0  # the snooze is over: nothing wakes later
