"""The alert lifecycle: compare-and-set transitions, permissions, and races (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.actions.table import ActionId, ActionRequest, handle
from bot.alerts.lifecycle import Actor
from bot.config.snapshot import ConfigSnapshot
from bot.domain import utcnow
from storage import queries
from storage.db import SessionFactory
from storage.models import AlertEvent, Outbox
from tests.helpers import prepared_config, raise_alert

ANA = Actor("U0ANA", "Ana", "slack")
BEN = Actor("U0BEN", "Ben", "slack")
MANAGER = Actor("U0MANAGER", "Mia", "slack")  # (platform, id): prepared_config's manager is on Slack
ADMIN = Actor("U0ADMIN", "Root", "slack")


async def act(
    sessions: SessionFactory, config: ConfigSnapshot, action: ActionId, key: str, actor: Actor, **args: str
):  # type: ignore[no-untyped-def]
    return await handle(
        ActionRequest(action, key, actor, args), sessions=sessions, config=config, now=utcnow()
    )


async def load(sessions: SessionFactory, key: str):  # type: ignore[no-untyped-def]
    async with sessions() as session:
        alert = await queries.get_alert(session, key=key)
        assert alert is not None
        events = [e.kind for e in await queries.alert_events(session, alert_id=alert.id or 0)]
        return alert, events


async def test_fifty_concurrent_claims_make_exactly_one_owner(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    key = await raise_alert(sessions, config)
    actors = [Actor(f"U{i:04}", f"Person {i}", "slack") for i in range(50)]
    replies = await asyncio.gather(*(act(sessions, config, ActionId.CLAIM, key, a) for a in actors))
    winners = [r for r in replies if r.ok]
    assert len(winners) == 1
    alert, events = await load(sessions, key)
    assert alert.status == "claimed" and alert.owner_id is not None
    assert events.count("claimed") == 1
    assert alert.version == 2
    losers = [r for r in replies if not r.ok]
    assert len(losers) == 49
    assert all(f"already claimed by {alert.owner_name}" in r.message for r in losers)


async def test_claim_unclaim_resolve_reopen_round_trip(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    key = await raise_alert(sessions, config)
    assert (await act(sessions, config, ActionId.CLAIM, key, ANA)).ok
    assert not (await act(sessions, config, ActionId.CLAIM, key, ANA)).ok  # already yours
    assert (await act(sessions, config, ActionId.UNCLAIM, key, ANA)).ok
    assert (await act(sessions, config, ActionId.CLAIM, key, BEN)).ok
    reply = await act(
        sessions,
        config,
        ActionId.RESOLVE,
        key,
        BEN,
        outcome="recovered",
        root_cause="staff",
        note="called, apologised, voucher",
    )
    assert reply.ok, reply.message
    alert, events = await load(sessions, key)
    assert (alert.status, alert.outcome, alert.root_cause, alert.resolved_by) == (
        "resolved",
        "recovered",
        "staff",
        "Ben",
    )
    assert alert.next_due_at is None
    assert not (await act(sessions, config, ActionId.CLAIM, key, ANA)).ok
    assert (await act(sessions, config, ActionId.REOPEN, key, BEN)).ok
    alert, events = await load(sessions, key)
    assert alert.status == "claimed" and alert.outcome is None and alert.owner_id == BEN.id
    assert events == ["created", "claimed", "unclaimed", "claimed", "resolved", "reopened"]


async def test_only_owner_manager_or_admin_can_unclaim_resolve_reassign(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    key = await raise_alert(sessions, config)
    await act(sessions, config, ActionId.CLAIM, key, ANA)
    for action, args in (
        (ActionId.UNCLAIM, {}),
        (ActionId.RESOLVE, {"outcome": "recovered"}),
        (ActionId.REASSIGN, {"user": "U0BEN"}),
    ):
        reply = await act(sessions, config, action, key, BEN, **args)
        assert not reply.ok and "Only the owner" in reply.message and "Ana" in reply.message
    alert, _events = await load(sessions, key)
    assert alert.owner_id == ANA.id and alert.version == 2
    assert (await act(sessions, config, ActionId.REASSIGN, key, MANAGER, user="U0BEN", user_name="Ben")).ok
    assert (await act(sessions, config, ActionId.RESOLVE, key, ADMIN, outcome="unreachable")).ok


async def test_reassign_sends_the_new_owner_a_direct_message(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    key = await raise_alert(sessions, config)
    assert (await act(sessions, config, ActionId.REASSIGN, key, ANA, user="U0BEN", user_name="Ben")).ok
    async with sessions() as session:
        dms = (await session.execute(select(Outbox).where(Outbox.kind == "dm"))).scalars().all()
    assert [(d.destination, d.platform) for d in dms] == [("U0BEN", "slack")]
    assert key in dms[0].payload["text"]


async def test_escalate_raises_level_and_posts_to_managers(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions, slack_channel="C0TEAM", managers_channel="C0MGRS")
    key = await raise_alert(sessions, config)
    assert (await act(sessions, config, ActionId.ESCALATE, key, ANA, reason="VIP customer")).ok
    alert, events = await load(sessions, key)
    assert alert.escalation_level == 1 and events[-1] == "escalated"
    async with sessions() as session:
        posts = (await session.execute(select(Outbox).where(Outbox.kind == "card.post"))).scalars().all()
    assert sorted((p.destination, p.payload["audience"]) for p in posts) == [
        ("C0MGRS", "managers"),
        ("C0TEAM", "team"),
    ]


async def test_snooze_note_and_bad_input_change_nothing_when_refused(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    key = await raise_alert(sessions, config)
    snoozed = await act(sessions, config, ActionId.SNOOZE, key, ANA, until="1h", reason="waiting on customer")
    assert snoozed.ok
    alert, _ = await load(sessions, key)
    assert alert.status == "snoozed" and alert.next_due_at == alert.snoozed_until
    version = alert.version
    assert not (await act(sessions, config, ActionId.SNOOZE, key, ANA, until="soon")).ok
    assert not (await act(sessions, config, ActionId.NOTE, key, ANA, note="   ")).ok
    assert not (await act(sessions, config, ActionId.RESOLVE, key, ANA, outcome="fixed-it")).ok
    assert not (await act(sessions, config, ActionId.CLAIM, "HA-9999", ANA)).ok
    alert, _ = await load(sessions, key)
    assert alert.version == version
    assert (await act(sessions, config, ActionId.NOTE, key, ANA, note="left a voicemail")).ok
    async with sessions() as session:
        count = (await session.execute(select(func.count()).select_from(AlertEvent))).scalar_one()
    assert count == 3  # created, snoozed, note


async def test_every_transition_updates_the_card_once_even_when_repeated(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    key = await raise_alert(sessions, config)
    await act(sessions, config, ActionId.CLAIM, key, ANA)
    await act(sessions, config, ActionId.NOTE, key, ANA, note="one")
    await act(sessions, config, ActionId.NOTE, key, ANA, note="two")
    async with sessions() as session:
        updates = (
            await session.execute(
                select(func.count())
                .select_from(Outbox)
                .where(Outbox.kind == "card.update", Outbox.status == "pending")
            )
        ).scalar_one()
        lines = (
            await session.execute(
                select(func.count()).select_from(Outbox).where(Outbox.kind == "thread.reply")
            )
        ).scalar_one()
    assert updates == 1  # coalesced: the worker renders the latest state anyway
    assert lines == 3


async def test_a_change_is_not_merged_into_an_update_the_worker_has_taken(sessions: SessionFactory) -> None:
    """A leased card.update may have rendered already: a change after that gets a row of its own, or
    the card would keep showing the state before it."""
    from datetime import timedelta

    from storage.queries.outbox import lease_due

    config = await prepared_config(sessions)
    key = await raise_alert(sessions, config)
    await act(sessions, config, ActionId.CLAIM, key, ANA)
    now = utcnow()
    leased = await lease_due(sessions, now=now + timedelta(seconds=1), limit=100,
                             until=now + timedelta(minutes=1))
    assert any(row.kind == "card.update" for row in leased)
    await act(sessions, config, ActionId.NOTE, key, ANA, note="while the update is being sent")
    async with sessions() as session:
        waiting = (
            await session.execute(
                select(func.count()).select_from(Outbox).where(
                    Outbox.kind == "card.update", Outbox.status == "pending", Outbox.attempts == 0
                )
            )
        ).scalar_one()
    assert waiting == 1


async def test_a_broken_stored_rule_is_skipped_not_a_failed_ingest(sessions: SessionFactory) -> None:
    from bot.config.snapshot import ConfigCache
    from storage.db import transaction
    from storage.models import Rule

    await prepared_config(sessions)
    async with transaction(sessions) as session:
        broken = {"field": "nps", "op": "~~", "value": 1}
        session.add(Rule(name="broken", priority=1, condition=broken, severity="low"))
        session.add(
            Rule(
                name="vip",
                priority=2,
                condition={"field": "attr.tier", "op": "=", "value": "vip"},
                severity="critical",
            )
        )
    config = await ConfigCache(sessions).get()
    assert [r.name for r in config.rules] == ["vip"]
    key = await raise_alert(sessions, config, nps=9, comment=None, attributes={"tier": "vip"})
    alert, _ = await load(sessions, key)
    assert alert.severity == "critical"
