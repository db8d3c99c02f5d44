"""What `/readyz` and `/metrics` read from the database, each in a session of its own."""

from __future__ import annotations

from storage import queries
from storage.db import SessionFactory
from storage.queries.health import ping


async def database_problem(sessions: SessionFactory) -> str | None:
    """None when the database answers; else why not (the exception's type: never its text)."""
    try:
        async with sessions() as session:
            await ping(session)
    except Exception as exc:  # any failure means "not ready", with the reason
        return type(exc).__name__
    return None


async def pending_outbox(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return await queries.outbox_depth(session)
