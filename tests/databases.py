"""Throw-away PostgreSQL databases for tests that need one of their own (parallel runs never collide)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import normalize_url

PG_ENV = "HOTLOOP_TEST_DATABASE_URL"


def throwaway_pg_database(prefix: str) -> Iterator[str]:
    """Yield the URL of a new, empty database; drop it afterwards. Skips without HOTLOOP_TEST_DATABASE_URL."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} not set")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"

    async def run(sql: str) -> None:
        engine = create_async_engine(normalize_url(base), isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield normalize_url(base).rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
