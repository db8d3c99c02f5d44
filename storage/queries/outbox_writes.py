"""Outbox lookups made while writing chat work (the delivery worker's lease lives elsewhere)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Outbox


def _pending_updates(alert_ids: Sequence[int]) -> tuple[ColumnElement[bool], ...]:
    return (
        col(Outbox.alert_id).in_(alert_ids),
        col(Outbox.kind) == "card.update",
        col(Outbox.status) == literal_column("'pending'"),  # a literal: the partial index applies
        # never one the worker has leased: it may have rendered already, and a change merged into it
        # after that would never be shown (a lease counts the attempt, so untaken rows have none)
        col(Outbox.attempts) == 0,
    )


async def alerts_with_pending_card_update(session: AsyncSession, *, alert_ids: Sequence[int]) -> set[int]:
    """Which of these alerts already have a pending `card.update` row (it renders the latest state)."""
    if not alert_ids:
        return set()
    query = select(col(Outbox.alert_id)).where(*_pending_updates(alert_ids))
    return {alert_id for alert_id in (await session.execute(query)).scalars() if alert_id is not None}


async def pending_card_updates(
    session: AsyncSession, *, alert_ids: Sequence[int]
) -> dict[int, list[tuple[int, dict[str, Any]]]]:
    """The pending `card.update` rows of these alerts, oldest first: alert id → [(row id, payload)]."""
    if not alert_ids:
        return {}
    query = (
        select(col(Outbox.alert_id), col(Outbox.id), col(Outbox.payload))
        .where(*_pending_updates(alert_ids))
        .order_by(col(Outbox.id))
    )
    found: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for alert_id, row_id, payload in (await session.execute(query)).all():
        if alert_id is not None and row_id is not None:
            found.setdefault(alert_id, []).append((row_id, dict(payload or {})))
    return found


async def set_outbox_payload(session: AsyncSession, *, row_id: int, payload: dict[str, Any]) -> None:
    await session.execute(update(Outbox).where(col(Outbox.id) == row_id).values(payload=payload))
