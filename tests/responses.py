"""Customer responses with (or without) their alert, written straight to the database: the data the
breakdown figures (`hotloop stats --by`) and the coaching view (`/hotloop coach`) read."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.db import SessionFactory, transaction
from storage.models import Alert, Feedback, Source, Team

_counter = iter(range(1, 1_000_000))


async def _source(session: AsyncSession, name: str, kind: str = "generic") -> int:
    found = (await session.execute(select(Source).where(col(Source.name) == name))).scalar_one_or_none()
    if found is None:
        found = Source(name=name, kind=kind, secret_encrypted="x")
        session.add(found)
        await session.flush()
    assert found.id is not None
    return found.id


async def _team(session: AsyncSession, name: str) -> int:
    found = (await session.execute(select(Team).where(col(Team.name) == name))).scalar_one_or_none()
    if found is None:
        found = Team(name=name)
        session.add(found)
        await session.flush()
    assert found.id is not None
    return found.id


async def add_response(
    sessions: SessionFactory,
    *,
    at: datetime,
    nps: int | None,
    attributes: dict[str, str] | None = None,
    comment: str | None = None,
    source: str = "web",
    alert: dict[str, Any] | None = None,
    team: str = "support",
) -> int:
    """One response received at `at`; `alert` (Alert fields: status, outcome, claimed_at…) makes it raise
    an alert in `team`, created at `at`. Returns the feedback id."""
    n = next(_counter)
    async with transaction(sessions) as session:
        source_id = await _source(session, source, "systemic" if source == "hotloop-systemic" else "generic")
        feedback = Feedback(
            source_id=source_id, external_id=f"r-{n}", received_at=at, nps=nps, comment=comment,
            attributes=attributes or {}, customer_name="Dana Private",
            customer_email="dana.private@example.com", customer_phone="+1 555 0199",
        )
        session.add(feedback)
        await session.flush()
        assert feedback.id is not None
        if alert is not None:
            values: dict[str, Any] = {
                "key": f"HA-{9000 + n}", "severity": "high", "status": "open", "created_at": at,
                "claim_due_at": at + timedelta(hours=1), "resolve_due_at": at + timedelta(hours=24),
            }
            values.update(alert)
            session.add(Alert(feedback_id=feedback.id, team_id=await _team(session, team), **values))
        return feedback.id
