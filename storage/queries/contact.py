"""What replying to a customer from the card reads: their address, name and language hints, and the
team's e-mail settings. Keyword-only; callers own the session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Alert, Feedback, Source, Team


@dataclass(frozen=True)
class ReplyFacts:
    email: str | None
    customer_name: str | None
    attributes: dict[str, str]
    source_mapping: dict[str, Any]
    team_name: str
    team_timezone: str
    team_mail: dict[str, Any] | None


async def reply_facts(session: AsyncSession, *, alert_id: int) -> ReplyFacts | None:
    """The customer and team facts of an alert; None when it is gone."""
    query = (
        select(Feedback, col(Source.mapping), Team)
        .join(Alert, col(Alert.feedback_id) == col(Feedback.id))
        .join(Source, col(Source.id) == col(Feedback.source_id))
        .join(Team, col(Team.id) == col(Alert.team_id))
        .where(col(Alert.id) == alert_id)
    )
    row = (await session.execute(query)).tuples().first()
    if row is None:
        return None
    feedback, mapping, team = row
    return ReplyFacts(
        email=feedback.customer_email, customer_name=feedback.customer_name,
        attributes=dict(feedback.attributes or {}), source_mapping=dict(mapping or {}),
        team_name=team.name, team_timezone=team.timezone, team_mail=team.mail,
    )
