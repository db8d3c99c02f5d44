"""One writer of alert state (bot/alerts/writer.py): a claim and a later part of the same response,
racing on SQLite and PostgreSQL, both land — once each, on top of each other, never over each other.

On PostgreSQL (READ COMMITTED) the former id-only ORM update of a later part committed version 2 a
second time in a few rounds of the race; SQLite serializes whole write transactions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select

from bot.actions.table import ActionId, ActionRequest, handle
from bot.alerts.lifecycle import SYSTEM, Actor
from bot.alerts.writer import AlertValues, AlertWrite, Change, current_values, next_due, write_changes
from bot.config.snapshot import ConfigSnapshot
from bot.domain import FeedbackIn, utcnow
from bot.ingest.accept import IngestResult, ingest
from storage import queries
from storage.db import SessionFactory, transaction
from storage.models import Alert, Outbox
from tests.helpers import prepared_config, raise_alert

ANA = Actor("U0ANA", "Ana", "slack")
ROUNDS = 32
# seconds each side waits before it starts, round by round: either one gets a head start, or neither
HEAD_STARTS = [0.0, 0.0002, 0.0005, 0.001, 0.0015, 0.002, 0.003, 0.005]


def _later_part(external_id: str) -> FeedbackIn:
    """The rest of the response: an alarming comment raises the alert from normal to high."""
    return FeedbackIn(external_id=external_id, nps=9, contact_requested=True,
                      comment="I want a refund, staff were rude")


async def _race(
    sessions: SessionFactory, config: ConfigSnapshot, round_: int
) -> tuple[str, bool, IngestResult]:
    external_id = f"r-race-{round_}"
    key = await raise_alert(sessions, config, external_id=external_id, nps=9, contact_requested=True,
                            comment=None)  # a promoter asking to be called back: normal
    delay = HEAD_STARTS[round_ // 2 % len(HEAD_STARTS)]
    claim_wait, ingest_wait = (delay, 0.0) if round_ % 2 else (0.0, delay)

    async def claim() -> bool:
        await asyncio.sleep(claim_wait)
        reply = await handle(ActionRequest(ActionId.CLAIM, key, ANA), sessions=sessions, config=config,
                               now=utcnow())
        return reply.ok

    async def add_later_part() -> IngestResult:
        await asyncio.sleep(ingest_wait)
        return await ingest(sessions, source_id=1, source_name="web", item=_later_part(external_id),
                            config=config, alarming_words=["rude"], now=utcnow())

    claimed, updated = await asyncio.gather(claim(), add_later_part())
    return key, claimed, updated


async def _pending_card_updates(sessions: SessionFactory, alert_id: int) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(Outbox).where(
            Outbox.alert_id == alert_id, Outbox.kind == "card.update", Outbox.status == "pending"
        )
        return int((await session.execute(query)).scalar_one())


async def test_a_later_part_racing_a_claim_lands_once_on_top_of_it(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    for round_ in range(ROUNDS):
        key, claimed, updated = await _race(sessions, config, round_)
        assert claimed and updated.severity == "high"
        async with sessions() as session:
            alert = await queries.get_alert(session, key=key)
            assert alert is not None and alert.id is not None
            events = await queries.alert_events(session, alert_id=alert.id)
        by_kind = {e.kind: e for e in events}
        assert sorted(e.kind for e in events) == ["claimed", "created", "updated"], round_
        # two committed changes: version 1 → 3, each change with its own version (no lost update)
        assert alert.version == 3, round_
        assert {by_kind["claimed"].data["version"], by_kind["updated"].data["version"]} == {2, 3}, round_
        assert (alert.status, alert.owner_id, alert.owner_platform) == ("claimed", ANA.id, ANA.platform)
        assert alert.severity == "high" and by_kind["updated"].data["severity_to"] == "high"
        assert alert.next_due_at == next_due(current_values(alert))  # from the state as committed
        assert await _pending_card_updates(sessions, alert.id) == 1, round_


async def test_a_write_from_a_stale_read_is_refused_and_leaves_nothing(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    key = await raise_alert(sessions, config)
    async with sessions() as session:
        stale = await queries.get_alert(session, key=key)
    assert stale is not None
    assert (await handle(ActionRequest(ActionId.CLAIM, key, ANA), sessions=sessions, config=config,
                           now=utcnow())).ok
    escalate = Change({"escalation_level": 5}, "escalated", "", "Escalated")
    async with transaction(sessions) as session:
        won = await write_changes(session, writes=[AlertWrite(stale, [escalate], SYSTEM)],
                                  now=datetime.now(UTC))
    assert won == []
    async with sessions() as session:
        alert = await queries.get_alert(session, key=key)
        assert alert is not None and alert.id is not None
        kinds = [e.kind for e in await queries.alert_events(session, alert_id=alert.id)]
        lines = (await session.execute(select(func.count()).select_from(Outbox).where(
            Outbox.alert_id == alert.id, Outbox.kind == "thread.reply"))).scalar_one()
    assert (alert.version, alert.escalation_level, kinds) == (2, 0, ["created", "claimed"])
    assert lines == 1  # the claim's line only


def test_change_values_name_every_alert_column() -> None:
    """`Change.values` is typed by these names (mypy catches a misspelt one); they must stay the table's."""
    assert set(AlertValues.__annotations__) == set(Alert.model_fields) - {"id"}
