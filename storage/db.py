"""Async engine and session factory. Nothing is created at import: call `create_engine_for(url)`.

SQLite runs in WAL mode with `BEGIN IMMEDIATE` transactions, so several processes (web + worker)
can share the file without SQLITE_BUSY_SNAPSHOT surprises; PostgreSQL uses asyncpg.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

SessionFactory = async_sessionmaker[AsyncSession]


def normalize_url(url: str) -> str:
    """Accept plain postgresql:// and sqlite:// URLs and pick the async drivers."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine_for(url: str, **kwargs: Any) -> AsyncEngine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)  # survives a database restart without failing a request
    parsed = make_url(url)
    if parsed.host in ("127.0.0.1", "localhost", "::1") and not ({"ssl", "sslmode"} & set(parsed.query)):
        # asyncpg tries TLS first by default; on loopback that is a wasted handshake per connection
        kwargs.setdefault("connect_args", {"ssl": False})
    return create_async_engine(url, **kwargs)


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # take over transaction control from pysqlite so we can say BEGIN IMMEDIATE ourselves
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # writers take the write lock up front (a deferred read-then-write can fail with SQLITE_BUSY
        # instead of waiting); readers begin deferred and never block anyone in WAL mode
        write = connection.get_execution_options().get(_WRITE_OPTION)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


async def create_all(engine: AsyncEngine) -> None:
    """Create the schema directly (tests). Production uses `hotloop db upgrade` (Alembic)."""
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)


_WRITE_OPTION = "hotloop_write"
_Writer = tuple[asyncio.Lock, AsyncEngine]
_sqlite_writers: weakref.WeakKeyDictionary[Any, _Writer] = weakref.WeakKeyDictionary()


def _sqlite_writer(engine: AsyncEngine) -> tuple[asyncio.Lock, AsyncEngine]:
    """One writer at a time per process, queued in asyncio rather than spinning in SQLite's busy handler."""
    found = _sqlite_writers.get(engine.sync_engine)
    if found is None:
        found = (asyncio.Lock(), engine.execution_options(**{_WRITE_OPTION: True}))
        _sqlite_writers[engine.sync_engine] = found
    return found


@asynccontextmanager
async def transaction(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits on success, rolls back on any exception."""
    bind = factory.kw.get("bind")
    if isinstance(bind, AsyncEngine) and bind.dialect.name == "sqlite":
        lock, writer = _sqlite_writer(bind)
        async with lock, factory(bind=writer) as session, session.begin():
            yield session
        return
    async with factory() as session, session.begin():
        yield session
