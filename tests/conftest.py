"""Shared fixtures. Every test that asks for `engine`/`sessions` runs on SQLite and, when
HOTLOOP_TEST_DATABASE_URL is set, on PostgreSQL too (one contract suite, every backend)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from storage.db import SessionFactory, create_all, create_engine_for, session_factory
from tests.databases import throwaway_pg_database
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlackApi

os.environ.setdefault("HOTLOOP_LOG_JSON", "false")
# a developer's own `.env` (from `hotloop init` in the checkout) must not change what tests see
os.environ["HOTLOOP_ENV_FILE"] = ""


@pytest.fixture
def slack_api() -> Iterator[FakeSlackApi]:
    """A loopback server speaking the Slack Web API."""
    with FakeSlackApi() as fake:
        yield fake


@pytest.fixture
def slack(slack_api: FakeSlackApi) -> FakeSlackApi:
    """The same fake, by the name most tests use (a module may redefine `slack`)."""
    return slack_api


@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    """A loopback server speaking the Bot Connector API."""
    with FakeBotConnector() as fake:
        yield fake


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A throw-away PostgreSQL database for this pytest process (parallel runs never collide)."""
    yield from throwaway_pg_database("hotloop_t")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/hotloop-test.db"
    return str(request.getfixturevalue("pg_database_url"))


_pg_schema_ready: set[str] = set()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine_for(database_url)
    if engine.dialect.name == "postgresql":
        if database_url not in _pg_schema_ready:
            await create_all(engine)
            _pg_schema_ready.add(database_url)
        names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        await create_all(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> SessionFactory:
    return session_factory(engine)


@pytest.fixture
async def app_server(engine: AsyncEngine, database_url: str) -> AsyncIterator[object]:
    """The real app over real HTTP, on a clean database, with a generic source named "web"."""
    from tests.appserver import serve_app, test_settings

    async with serve_app(test_settings(database_url)) as server:
        await server.add_source("web")
        yield server
