"""`first_delivery` with group commit (bot/chat/deliveries.py): deliveries that wait together share one
transaction, and each still acts once: a delivery seen before, or twice in one burst, is new only once."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.chat.state import first_delivery
from bot.domain import utcnow
from storage.db import SessionFactory
from storage.models import WebhookDelivery


def _count_commits(engine: AsyncEngine) -> list[int]:
    commits: list[int] = []

    @event.listens_for(engine.sync_engine, "commit")
    def on_commit(_conn: Any) -> None:
        commits.append(1)

    return commits


async def _stored(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(WebhookDelivery))).scalar_one())


async def test_a_burst_is_recorded_in_a_few_transactions(
    engine: AsyncEngine, sessions: SessionFactory
) -> None:
    commits = _count_commits(engine)
    answers = await asyncio.gather(*(
        first_delivery(sessions, platform="teams", delivery_id=f"act:{i}", now=utcnow()) for i in range(100)
    ))
    assert answers == [True] * 100
    assert await _stored(sessions) == 100
    assert 1 <= len(commits) <= 3  # the first caller's own flush, then everyone who arrived meanwhile


async def test_each_delivery_is_new_exactly_once(sessions: SessionFactory) -> None:
    assert await first_delivery(sessions, platform="slack", delivery_id="sig:old", now=utcnow())
    burst = ["sig:old", "sig:new", "sig:new", "sig:new", "ev:1"]
    answers = await asyncio.gather(*(
        first_delivery(sessions, platform="slack", delivery_id=d, now=utcnow()) for d in burst
    ))
    assert answers[0] is False  # recorded before the burst
    assert sorted(answers[1:4]) == [False, False, True]  # three replays of one request: one acts
    assert answers[4] is True
    # the same id on another platform is another delivery
    assert await first_delivery(sessions, platform="teams", delivery_id="sig:new", now=utcnow())
    assert await _stored(sessions) == 4


async def test_a_bad_delivery_fails_alone(sessions: SessionFactory) -> None:
    """A row the database refuses (no platform: NOT NULL) fails its own caller only; the rest of its
    batch is recorded."""
    no_platform: Any = None
    results = await asyncio.gather(
        first_delivery(sessions, platform="teams", delivery_id="act:ok-1", now=utcnow()),
        first_delivery(sessions, platform=no_platform, delivery_id="act:bad", now=utcnow()),
        first_delivery(sessions, platform="teams", delivery_id="act:ok-2", now=utcnow()),
        return_exceptions=True,
    )
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], Exception)
    assert await _stored(sessions) == 2
