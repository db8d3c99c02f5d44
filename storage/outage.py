"""Is this exception the database being unreachable (stopped, restarting, its connections killed)?

Such a failure stored nothing and will pass once the database is back, so the HTTP layer answers 503
with Retry-After instead of 500. SQLAlchemy wraps most driver errors in DBAPIError, but asyncpg's
connection errors can escape unwrapped while a connection is being opened (a refused TCP connect is a
bare OSError), and a pool with no free connection raises SQLAlchemy's own TimeoutError.
"""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

DATABASE_UNAVAILABLE = "the database is unavailable; nothing was stored, retry later"
RETRY_AFTER_SECONDS = 5

_OUTAGES: tuple[type[BaseException], ...] = (
    DBAPIError,
    PoolTimeoutError,
    OSError,  # refused, reset, unreachable, timed out (TimeoutError is an OSError)
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # ConnectionDoesNotExistError: the backend went away mid-query
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, backend terminated
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections
)


def is_database_outage(error: BaseException) -> bool:
    """True for the failures above, also inside an exception group (anyio task groups raise those)."""
    if isinstance(error, BaseExceptionGroup):
        return any(is_database_outage(inner) for inner in error.exceptions)
    return isinstance(error, _OUTAGES)
