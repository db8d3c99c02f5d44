"""The batching loop the acknowledgement and follow-up sweeps share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import SessionFactory, transaction

Step = Callable[[AsyncSession], Awaitable[int]]


async def in_batches(sessions: SessionFactory, step: Step, *, batch: int, max_batches: int) -> int:
    """Run `step` (it handles up to `batch` rows and says how many) a transaction at a time, until a
    step finds fewer than `batch` or `max_batches` ran (the rest waits for the next tick). The total."""
    total = 0
    for _ in range(max_batches):
        async with transaction(sessions) as session:
            taken = await step(session)
        total += taken
        if taken < batch:
            break
    return total
