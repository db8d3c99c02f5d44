"""A systemic case is an alert like any other for the people working it (SQLite and PostgreSQL): claim,
note and escalate act on the parent through the same action table, each with its own event and a card
update queued; none of them touches the children (only Resolve, when asked, acts on them)."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from bot.actions.table import ActionId
from storage.db import SessionFactory
from storage.models import Alert, AlertEvent, Outbox
from tests.bot.systemic.test_detector import burst, prepare
from tests.bot.systemic.test_detector_resolve import ADMIN, ALICE, act, alerts, the_parent


async def events_of(sessions: SessionFactory, key: str) -> list[str]:
    async with sessions() as session:
        query = (select(col(AlertEvent.kind)).join(Alert, col(Alert.id) == col(AlertEvent.alert_id))
                 .where(col(Alert.key) == key).order_by(col(AlertEvent.id)))
        return list((await session.execute(query)).scalars())


async def queued(sessions: SessionFactory, key: str, kind: str) -> int:
    """Outbox rows of `kind` for alert `key` (pending card updates coalesce into one row)."""
    async with sessions() as session:
        query = (select(col(Outbox.id)).join(Alert, col(Alert.id) == col(Outbox.alert_id))
                 .where(col(Alert.key) == key, col(Outbox.kind) == kind))
        return len((await session.execute(query)).scalars().all())


async def test_claim_note_and_escalate_work_on_the_parent_and_leave_the_children_alone(
    sessions: SessionFactory,
) -> None:
    config = await prepare(sessions, slack_channel="C0TEAM", managers=["U0MANAGER"])
    children = await burst(sessions, config, 4)
    parent = await the_parent(sessions)
    before = await alerts(sessions, children)
    lines = await queued(sessions, parent, "thread.reply")

    assert "claimed" in (await act(sessions, ActionId.CLAIM, parent, ALICE)).lower()
    await act(sessions, ActionId.NOTE, parent, ALICE, note="Courier firm called; they are on it")
    await act(sessions, ActionId.ESCALATE, parent, ADMIN, reason="Third time this month")

    rows = await alerts(sessions, [parent, *children])
    assert rows[parent].kind == "systemic" and rows[parent].owner_id == "U0ALICE"
    kinds = await events_of(sessions, parent)
    assert {"claimed", "note", "escalated"} <= set(kinds), kinds
    assert await queued(sessions, parent, "card.update") >= 1  # its card follows
    assert await queued(sessions, parent, "thread.reply") >= lines + 3  # one thread line per action
    for key in children:  # the children keep their own state: the parent's actions do not reach them
        assert (rows[key].status, rows[key].owner_id, rows[key].version) == (
            before[key].status, before[key].owner_id, before[key].version)
