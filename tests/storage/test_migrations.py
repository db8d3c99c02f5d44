"""Alembic migrations: an empty database upgraded to head has exactly the schema of storage/models.py."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from storage.db import create_engine_for, normalize_url
from storage.migrate import alembic_config, current_revision, downgrade, head_revision, upgrade

PG_ENV = "HOTLOOP_TEST_DATABASE_URL"


async def _pg_admin(base: str, sql: str) -> None:
    engine = create_async_engine(normalize_url(base), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def fresh_url(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[str]:
    """An empty database of its own: the session-wide PostgreSQL test database may already hold
    tables created by `create_all` in other tests, so PostgreSQL gets a brand-new database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/migrate.db"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} not set")
    name = f"hotloop_m_{uuid.uuid4().hex[:12]}"
    await _pg_admin(base, f'CREATE DATABASE "{name}"')
    try:
        yield normalize_url(base).rsplit("/", 1)[0] + f"/{name}"
    finally:
        await _pg_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _diff(connection: Connection) -> list[Any]:
    # compare_type is on: a column type or length drift is reported too. No entry is filtered out:
    # UTCDateTime/JSONType reflect as their impl types (DATETIME/TIMESTAMPTZ, JSON/JSONB) and
    # Alembic compares those against the TypeDecorator's impl, so there is no rendering noise to hide.
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def _schema_diff(url: str) -> list[Any]:
    engine = create_engine_for(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_diff)
    finally:
        await engine.dispose()


async def _table_names(url: str) -> set[str]:
    engine = create_engine_for(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


def test_a_single_head_rooted_at_the_initial_revision() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1 and script.get_bases() == ["0001"]
    assert head_revision() == script.get_current_head()


async def test_upgrade_empty_database_matches_models(fresh_url: str) -> None:
    assert await current_revision(fresh_url) is None
    await upgrade(fresh_url)
    assert await _schema_diff(fresh_url) == []
    assert await current_revision(fresh_url) == head_revision()
    expected = {t.name for t in SQLModel.metadata.sorted_tables} | {"alembic_version"}
    assert await _table_names(fresh_url) == expected


async def test_upgrade_twice_is_a_noop(fresh_url: str) -> None:
    await upgrade(fresh_url)
    await upgrade(fresh_url)
    assert await current_revision(fresh_url) == head_revision()
    assert await _schema_diff(fresh_url) == []


async def test_downgrade_to_base_and_back(fresh_url: str) -> None:
    await upgrade(fresh_url)
    await downgrade(fresh_url, "base")
    assert await current_revision(fresh_url) is None
    assert await _table_names(fresh_url) <= {"alembic_version"}
    await upgrade(fresh_url, "head")
    assert await _schema_diff(fresh_url) == []


async def test_upgrade_from_a_running_event_loop_keeps_data(fresh_url: str) -> None:
    await upgrade(fresh_url)
    engine = create_engine_for(fresh_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO admin (user_id, platform, created_at) "
                                    "VALUES ('U1', 'slack', CURRENT_TIMESTAMP)"))
        await upgrade(fresh_url)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM admin"))).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_the_detector_cursor_exists_from_the_schema_on(fresh_url: str) -> None:
    """Seeded by migration 0006 (and by create_all): no timer creates a row at an arbitrary moment."""
    await upgrade(fresh_url)
    engine = create_engine_for(fresh_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT name, last_id FROM jobcursor"))).all()
    finally:
        await engine.dispose()
    assert [tuple(r) for r in rows] == [("systemic", 0)]
