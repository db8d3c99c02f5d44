"""The configuration cache (bot/config/snapshot.py `ConfigCache`), on SQLite and PostgreSQL: a change
committed and invalidated while another caller's load was still reading the old rows is seen by the
very next read — the stale load's result is not kept for a whole TTL (that race once sent a test's
first card to no channel: the team's channel was linked a moment after a background job began a load)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

import bot.config.snapshot as snapshot_module
from bot.config.snapshot import ConfigCache, ensure_defaults
from storage.db import SessionFactory, transaction
from storage.models import Team


async def test_a_load_overtaken_by_a_change_is_not_kept(
    engine: AsyncEngine, sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ensure_defaults(sessions, default_team="support", admins=[])
    cache = ConfigCache(sessions, ttl=60.0)
    real_load = snapshot_module.load_snapshot
    loaded = asyncio.Event()
    release = asyncio.Event()

    async def slow_to_return(*args: Any, **kwargs: Any) -> Any:
        found = await real_load(*args, **kwargs)  # reads the rows as they are now
        loaded.set()
        await release.wait()
        return found

    monkeypatch.setattr(snapshot_module, "load_snapshot", slow_to_return)
    early = asyncio.create_task(cache.get())  # e.g. a background job's read
    await loaded.wait()
    async with transaction(sessions) as session:  # the change, committed while that load is out
        await session.execute(update(Team).where(col(Team.is_default)).values(slack_channel="C0LINKED"))
    cache.invalidate()
    release.set()
    stale = await early
    assert stale.team(stale.default_team_id).slack_channel is None  # it began before the change

    monkeypatch.setattr(snapshot_module, "load_snapshot", real_load)
    fresh = await cache.get()
    assert fresh.team(fresh.default_team_id).slack_channel == "C0LINKED"
