"""Alembic environment for hotloop: async engines (aiosqlite / asyncpg), driven from code.

`storage.migrate` hands us an open *sync* connection (from `AsyncConnection.run_sync`) through
`config.attributes["connection"]`. Run from the `alembic` CLI instead, we build an async engine
from `sqlalchemy.url` (or HOTLOOP_DATABASE_URL) ourselves.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from storage.db import create_engine_for, normalize_url

target_metadata = SQLModel.metadata


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render our custom column types as importable `storage.types.X()` expressions."""
    if type_ != "type":
        return False
    if isinstance(obj, AutoString):  # SQLModel's str type is a plain VARCHAR; keep revisions sqlmodel-free
        return f"sa.String(length={obj.length})" if obj.length is not None else "sa.String()"
    if type(obj).__module__ == "storage.types":
        autogen_context.imports.add("import storage.types")
        return f"storage.types.{type(obj).__name__}()"
    return False


def _configure_kwargs(connection: Connection) -> dict[str, Any]:
    return {
        "connection": connection,
        "target_metadata": target_metadata,
        "render_item": render_item,
        "compare_type": True,
        # SQLite cannot ALTER most things: batch mode recreates the table instead
        "render_as_batch": connection.dialect.name == "sqlite",
    }


def do_run_migrations(connection: Connection) -> None:
    context.configure(**_configure_kwargs(connection))
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations(url: str) -> None:
    engine = create_engine_for(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(do_run_migrations)
            await conn.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("HOTLOOP_DATABASE_URL")
    if not url:
        raise RuntimeError("no database URL: set sqlalchemy.url or HOTLOOP_DATABASE_URL")
    asyncio.run(run_async_migrations(url))


def run_migrations_offline() -> None:
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("HOTLOOP_DATABASE_URL", "")
    context.configure(
        url=normalize_url(url),
        target_metadata=target_metadata,
        render_item=render_item,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
