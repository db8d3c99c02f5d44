"""The fetch queue: responses a platform announced by id only (Qualtrics, SurveyMonkey) wait in the
outbox as `source.fetch` rows, one per (source, response), until the delivery worker fetches them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.db import SessionFactory, transaction
from storage.models import Outbox
from storage.queries import find_feedback

FETCH_KIND = "source.fetch"
FETCH_PLATFORM = "fetch"


def _fetch_key(source_id: int, external_id: str) -> str:
    return f"{source_id}:{external_id}"


async def fetch_queued(session: AsyncSession, *, source_id: int, external_id: str) -> bool:
    """A fetch row for this response exists, in any status (a platform's retry queues nothing)."""
    query = select(col(Outbox.id)).where(
        col(Outbox.kind) == FETCH_KIND, col(Outbox.destination) == _fetch_key(source_id, external_id)
    )
    return (await session.execute(query)).first() is not None


async def queue_fetch(
    sessions: SessionFactory, *, source_id: int, external_id: str, ref: dict[str, Any], now: datetime
) -> bool:
    """Queue one fetch, committed on return; False when the response is already known or queued."""
    async with transaction(sessions) as session:
        if await find_feedback(session, source_id=source_id, external_id=external_id):
            return False
        if await fetch_queued(session, source_id=source_id, external_id=external_id):
            return False
        session.add(
            Outbox(
                kind=FETCH_KIND, platform=FETCH_PLATFORM, destination=_fetch_key(source_id, external_id),
                alert_id=None, payload={"source_id": source_id, "external_id": external_id, "ref": ref},
                status="pending", attempts=0, next_attempt_at=now, last_error=None, created_at=now,
                done_at=None,
            )
        )
    return True
