"""Outbox lookups made while writing chat work (the delivery worker's lease lives elsewhere)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Outbox


async def alerts_with_pending_card_update(session: AsyncSession, *, alert_ids: Sequence[int]) -> set[int]:
    """Which of these alerts already have a pending `card.update` row (it renders the latest state)."""
    if not alert_ids:
        return set()
    query = select(col(Outbox.alert_id)).where(
        col(Outbox.alert_id).in_(alert_ids),
        col(Outbox.kind) == "card.update",
        col(Outbox.status) == literal_column("'pending'"),  # a literal: the partial index applies
    )
    return {alert_id for alert_id in (await session.execute(query)).scalars() if alert_id is not None}
