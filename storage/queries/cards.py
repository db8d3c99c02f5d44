"""What a card is built from: an alert with its feedback, team and source name, read in one query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Alert, CardRef, Feedback, Source, SystemicIssue, SystemicMember, Team

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


_PLACE_PREFERENCE = {"team": 0, "managers": 1, "digest": 2}  # a child's own card first, a digest last


async def child_slack_places(session: AsyncSession, *, parent_alert_id: int) -> dict[str, tuple[str, str]]:
    """Child key → (channel, ts) of its card in Slack, for the children of the systemic issue whose case
    is alert `parent_alert_id`: the team's card, else the managers', else the digest that lists it."""
    query = (
        select(col(Alert.key), col(CardRef.channel), col(CardRef.message_id), col(CardRef.audience))
        .join(CardRef, col(CardRef.alert_id) == col(Alert.id))
        .join(SystemicMember, col(SystemicMember.alert_id) == col(Alert.id))
        .join(SystemicIssue, col(SystemicIssue.id) == col(SystemicMember.systemic_id))
        .where(col(SystemicIssue.alert_id) == parent_alert_id, col(CardRef.platform) == "slack")
    )
    best: dict[str, tuple[int, str, str]] = {}
    for key, channel, message_id, audience in (await session.execute(query)).tuples():
        rank = _PLACE_PREFERENCE.get(audience, 3)
        if key and (key not in best or rank < best[key][0]):
            best[key] = (rank, channel, message_id)
    return {key: (channel, ts) for key, (_, channel, ts) in best.items()}
