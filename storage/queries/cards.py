"""What a card is built from: an alert with its feedback, team and source name, read in one query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Alert, Feedback, Source, Team

CardRow = tuple[Alert, Feedback, Team, str]


def _card_query() -> Any:
    return (
        select(Alert, Feedback, Team, col(Source.name))
        .join(Feedback, col(Feedback.id) == col(Alert.feedback_id))
        .join(Team, col(Team.id) == col(Alert.team_id))
        .join(Source, col(Source.id) == col(Feedback.source_id))
    )


async def card_row(session: AsyncSession, *, alert_id: int) -> CardRow | None:
    row = (await session.execute(_card_query().where(col(Alert.id) == alert_id))).first()
    return None if row is None else (row[0], row[1], row[2], row[3])


async def card_rows(session: AsyncSession, *, alert_ids: Sequence[int]) -> list[CardRow]:
    """Several alerts at once (a burst digest); alerts that are gone are left out."""
    rows = (await session.execute(_card_query().where(col(Alert.id).in_(list(alert_ids))))).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]
