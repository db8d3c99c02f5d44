"""Async engine and session factory. Nothing is created at import: call `create_engine_for(url)`.

SQLite runs in WAL mode with `BEGIN IMMEDIATE` transactions, so several processes (web + worker)
can share the file without SQLITE_BUSY_SNAPSHOT surprises; PostgreSQL uses asyncpg.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import URL, event, inspect, make_url, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
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


class DatabaseConfigError(RuntimeError):
    """HOTLOOP_DATABASE_URL is malformed or its database cannot be reached. The message is one line
    that names the variable and never holds the URL itself (it may carry a password)."""


_SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
_URL_FORMS = "use sqlite:///PATH or postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"


def parse_database_url(url: str) -> URL:
    """The parsed URL, or DatabaseConfigError saying what is wrong with it (without echoing it)."""
    invalid = "HOTLOOP_DATABASE_URL is not a valid database URL"
    try:
        parsed = make_url(normalize_url(url))
    except ArgumentError:
        raise DatabaseConfigError(f"{invalid}: {_URL_FORMS}") from None
    except ValueError:  # the only one make_url raises: a port that is not a number
        raise DatabaseConfigError(f"{invalid}: its port is not a number") from None
    if parsed.drivername not in _SUPPORTED_DRIVERS:
        raise DatabaseConfigError(f"{invalid}: {parsed.drivername!r} is not supported; {_URL_FORMS}")
    return parsed


def _sqlite_file(parsed: URL) -> str | None:
    path = parsed.database
    if not path or path == ":memory:" or path.startswith("file:") or parsed.query.get("mode") == "memory":
        return None
    return path


def _create_private_sqlite_file(path: str) -> None:
    """The file holds customer contact details: create it owner-only before SQLite does (SQLite would
    use 0644 minus the umask). SQLite gives its -wal and -shm files the main file's mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # an existing file keeps the mode its owner chose
    except OSError as exc:
        reason = "its folder does not exist" if isinstance(exc, FileNotFoundError) else exc.strerror
        raise DatabaseConfigError(
            f"cannot create the SQLite database at HOTLOOP_DATABASE_URL ({path}): {reason}"
        ) from exc
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
    finally:
        os.close(fd)


CONNECT_TIMEOUT_SECONDS = 5.0  # PostgreSQL: opening one connection
POOL_TIMEOUT_SECONDS = 10.0  # PostgreSQL: waiting for a free connection from the pool


def create_engine_for(url: str, **kwargs: Any) -> AsyncEngine:
    parsed = parse_database_url(url)
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = _sqlite_file(parsed)
        if path is not None:
            _create_private_sqlite_file(path)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)  # survives a database restart without failing a request
    kwargs.setdefault("pool_timeout", POOL_TIMEOUT_SECONDS)
    connect_args = dict(kwargs.pop("connect_args", {}))
    # a database that does not answer fails the request fast (503, retry later), not after asyncpg's 60 s
    connect_args.setdefault("timeout", CONNECT_TIMEOUT_SECONDS)
    if parsed.host in ("127.0.0.1", "localhost", "::1") and not ({"ssl", "sslmode"} & set(parsed.query)):
        # asyncpg tries TLS first by default; on loopback that is a wasted handshake per connection
        connect_args.setdefault("ssl", False)
    return create_async_engine(url, connect_args=connect_args, **kwargs)


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


CONNECT_CHECK_SECONDS = 10.0


async def check_connection(url: str) -> None:
    """Open one connection, or raise DatabaseConfigError with a one-line reason."""
    parsed = parse_database_url(url)
    engine = create_engine_for(url)
    try:
        async with asyncio.timeout(CONNECT_CHECK_SECONDS), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except TimeoutError:  # before OSError: TimeoutError is one
        reason = f"no answer within {CONNECT_CHECK_SECONDS:g} s"
        raise DatabaseConfigError(_unreachable(parsed, reason)) from None
    except (OSError, SQLAlchemyError) as exc:
        raise DatabaseConfigError(_unreachable(parsed, _reason(exc, parsed))) from exc
    finally:
        await engine.dispose()


def _unreachable(parsed: URL, reason: str) -> str:
    if parsed.get_backend_name() == "sqlite":
        return f"cannot open the SQLite database at HOTLOOP_DATABASE_URL ({parsed.database}): {reason}"
    where = f"{parsed.host or 'local socket'}:{parsed.port or 5432}"
    return f"cannot connect to the database at HOTLOOP_DATABASE_URL ({where}): {reason}"


def _reason(exc: BaseException, parsed: URL) -> str:
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    message = str(exc)
    if isinstance(exc, socket.gaierror):
        reason = "host not found"
    elif isinstance(exc, OSError) and (exc.errno == errno.ECONNREFUSED or "Connect call failed" in message):
        reason = "connection refused"  # asyncpg joins one error per address ("Multiple exceptions: …")
    elif isinstance(exc, OSError) and exc.strerror:
        reason = exc.strerror
    else:
        reason = message.splitlines()[0] if message.strip() else type(exc).__name__
    password = parsed.password
    return reason.replace(str(password), "***") if password else reason


async def has_table(engine: AsyncEngine, name: str) -> bool:
    async with engine.connect() as conn:
        return bool(await conn.run_sync(lambda sync: inspect(sync).has_table(name)))


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
