"""What the breakdown figures (`hotloop stats --by …`) and the coaching view (`/hotloop coach`) read:
customer responses with their alert, if any. Responses of hotloop's own systemic issues (an alert of
kind "systemic", from the built-in source "hotloop-systemic") are never among them. Callers own the
session."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Alert, Feedback, Source, Team

SYSTEMIC_SOURCE = "hotloop-systemic"


@dataclass(frozen=True)
class ResponseRow:
    """One customer response: what the figures need, never the customer's contact details."""

    feedback_id: int
    received_at: datetime
    nps: int | None
    comment: str | None
    attributes: dict[str, str]
    source: str
    alert: Alert | None  # the alert it raised (kind "response"), if any
    team: str | None  # the alert's team


def _responses_query(*, team: str | None) -> Any:
    query = (
        select(
            col(Feedback.id), col(Feedback.received_at), col(Feedback.nps), col(Feedback.comment),
            col(Feedback.attributes), col(Source.name), Alert, col(Team.name),
        )
        .join(Source, col(Source.id) == col(Feedback.source_id))
        .outerjoin(Alert, col(Alert.feedback_id) == col(Feedback.id))
        .outerjoin(Team, col(Team.id) == col(Alert.team_id))
        .where(
            col(Source.name) != SYSTEMIC_SOURCE,
            or_(col(Alert.id).is_(None), col(Alert.kind) == "response"),
        )
        .order_by(col(Feedback.id))
    )
    if team is not None:  # a response that raised no alert belongs to no team
        query = query.where(col(Team.name) == team)
    return query


async def responses_since(
    session: AsyncSession, *, since: datetime, team: str | None = None
) -> list[ResponseRow]:
    """Every customer response received since `since` (only those whose alert is `team`'s when given)."""
    query = _responses_query(team=team).where(col(Feedback.received_at) >= since)
    rows = await session.execute(query)
    return [
        ResponseRow(feedback_id, received_at, nps, comment, dict(attributes or {}), source, alert, team_name)
        for feedback_id, received_at, nps, comment, attributes, source, alert, team_name in rows.tuples()
    ]


async def attribute_values_since(
    session: AsyncSession, *, since: datetime, name: str
) -> list[tuple[int, str]]:
    """(feedback id, value of attribute `name`) of the responses since `since` that carry it — a light
    first pass, so matching a person's name (case and accents folded) happens in Python on every
    database alike."""
    query = (
        select(col(Feedback.id), col(Feedback.attributes))
        .join(Source, col(Source.id) == col(Feedback.source_id))
        .where(col(Feedback.received_at) >= since, col(Source.name) != SYSTEMIC_SOURCE)
    )
    found: list[tuple[int, str]] = []
    for feedback_id, attributes in (await session.execute(query)).tuples():
        value = (attributes or {}).get(name)
        if isinstance(value, str) and value.strip() and feedback_id is not None:
            found.append((feedback_id, value))
    return found


async def responses_by_id(session: AsyncSession, *, feedback_ids: Collection[int]) -> list[ResponseRow]:
    """The responses `feedback_ids` with their alert (never a systemic issue's summary)."""
    if not feedback_ids:
        return []
    rows: list[ResponseRow] = []
    ids = sorted(feedback_ids)
    for start in range(0, len(ids), 500):  # bounded IN lists
        query = _responses_query(team=None).where(col(Feedback.id).in_(ids[start : start + 500]))
        for fid, at, nps, comment, attributes, source, alert, team in (await session.execute(query)).tuples():
            rows.append(ResponseRow(fid, at, nps, comment, dict(attributes or {}), source, alert, team))
    return rows

