"""Shared fixtures. Every test that asks for `engine`/`sessions` runs on SQLite and, when
HOTLOOP_TEST_DATABASE_URL is set, on PostgreSQL too (one contract suite, every backend).

The app-and-fakes family: `fake_slack` / `fake_teams` (loopback fakes of the Slack Web API and the Bot
Connector), `slack_chat` / `teams_chat` (the adapters on them) and `app_with_chats` (the real app over
real HTTP on the test's database, its chats on those fakes). Older names stay as aliases: `slack_api` and
`slack` for `fake_slack`, `connector` for `fake_teams`."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from storage.db import SessionFactory, create_all, create_engine_for, session_factory
from storage.models_systemic import seed_job_cursors
from tests.databases import throwaway_pg_database
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlackApi

if TYPE_CHECKING:
    from adapters.slack.chat import SlackChat
    from adapters.teams.connector import TeamsChat
    from tests.appserver import AppServer, AppWithChats

os.environ.setdefault("HOTLOOP_LOG_JSON", "false")
# a developer's own `.env` (from `hotloop init` in the checkout) must not change what tests see
os.environ["HOTLOOP_ENV_FILE"] = ""


@pytest.fixture
def fake_slack() -> Iterator[FakeSlackApi]:
    """A loopback server speaking the Slack Web API."""
    with FakeSlackApi() as fake:
        yield fake


@pytest.fixture
def slack_api(fake_slack: FakeSlackApi) -> FakeSlackApi:
    """`fake_slack` by its older name."""
    return fake_slack


@pytest.fixture
def slack(fake_slack: FakeSlackApi) -> FakeSlackApi:
    """`fake_slack` by its older name (a module may redefine `slack`)."""
    return fake_slack


@pytest.fixture
def fake_teams() -> Iterator[FakeBotConnector]:
    """A loopback server speaking the Bot Connector API."""
    with FakeBotConnector() as fake:
        yield fake


@pytest.fixture
def connector(fake_teams: FakeBotConnector) -> FakeBotConnector:
    """`fake_teams` by its older name."""
    return fake_teams


@pytest.fixture
def slack_chat(fake_slack: FakeSlackApi) -> SlackChat:
    """The Slack adapter's `Chat` on `fake_slack`."""
    from tests.chat.backends import slack_chat_on

    return slack_chat_on(fake_slack)


@pytest.fixture
async def teams_chat(fake_teams: FakeBotConnector) -> AsyncIterator[TeamsChat]:
    """The Teams adapter's `Chat` on `fake_teams`, with a bot token the fake then demands."""
    from tests.chat.backends import teams_chat_on

    async with teams_chat_on(fake_teams) as chat:
        yield chat


@pytest.fixture
def app_with_chats(request: pytest.FixtureRequest, engine: AsyncEngine, database_url: str) -> AppWithChats:
    """`async with app_with_chats(slack=True, teams=True, admins=[…]) as server:` the real app on this
    test's clean database, Slack on `fake_slack`, Teams on `fake_teams` (only the fakes asked for are
    started). Arguments: tests.appserver.serve_with_chats."""
    from tests.appserver import serve_with_chats

    def start(
        *, slack: bool = False, teams: bool = False, **kwargs: Any
    ) -> AbstractAsyncContextManager[AppServer]:
        return serve_with_chats(
            database_url,
            slack=request.getfixturevalue("fake_slack") if slack else None,
            teams=request.getfixturevalue("fake_teams") if teams else None,
            **kwargs,
        )

    return start


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
            await conn.run_sync(seed_job_cursors)
    else:
        await create_all(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> SessionFactory:
    return session_factory(engine)


@pytest.fixture
async def app_server(app_with_chats: AppWithChats) -> AsyncIterator[AppServer]:
    """The real app over real HTTP, on a clean database, with a generic source named "web"."""
    async with app_with_chats() as server:
        yield server
