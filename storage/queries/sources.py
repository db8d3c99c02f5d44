"""Sources (survey platforms posting to /webhooks/NAME): the rows their management and fetches need."""

from __future__ import annotations

from storage.db import SessionFactory
from storage.models import Source


async def source_name(sessions: SessionFactory, *, source_id: int) -> str | None:
    """The name of the source with this id; None when it was removed."""
    async with sessions() as session:
        row = await session.get(Source, source_id)
    return row.name if row else None

