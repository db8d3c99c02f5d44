"""Alembic driven from code: no alembic.ini needed, usable from a running event loop.

Alembic's API is synchronous; we open an async connection and run it inside
`AsyncConnection.run_sync`, handing the sync connection to `migrations/env.py` through
`Config.attributes["connection"]`.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.db import create_engine_for

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """A Config whose script_location is the packaged `storage/migrations` directory."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser interpolation
    return cfg


def head_revision() -> str | None:
    """The newest revision shipped with the code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _upgrade_sync(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def _downgrade_sync(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, revision)


def _current_sync(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision` (a no-op when it is already there)."""
    engine = create_engine_for(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_upgrade_sync, revision)
            await conn.commit()
    finally:
        await engine.dispose()


async def downgrade(url: str, revision: str) -> None:
    """Step the database at `url` back to `revision` (`base` drops everything)."""
    engine = create_engine_for(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_downgrade_sync, revision)
            await conn.commit()
    finally:
        await engine.dispose()


async def current_revision(url: str) -> str | None:
    """The revision stamped in the database, or None for an unmigrated one."""
    engine = create_engine_for(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current_sync)
    finally:
        await engine.dispose()
