"""The hourly retention keeps the systemic detector's per-alert signals only as long as a window can read
them (≤ 7 days, 8 kept), and its day counts for the 28-day baseline (35 kept), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col

from bot.domain import utcnow
from jobs.retention import purge_finished_outbox
from storage.db import SessionFactory, transaction
from storage.models import Alert, AlertSignal, SignalDay
from tests.helpers import prepared_config, raise_alert


async def test_signals_go_after_8_days_and_day_counts_after_35(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions, slack_channel="C0TEAM")
    key = await raise_alert(sessions, config, external_id="kept")
    now = utcnow()
    async with transaction(sessions) as session:
        alert = (await session.execute(select(Alert).where(col(Alert.key) == key))).scalar_one()
        assert alert.id is not None
        for days in (1, 7.5, 8.5, 30):
            session.add(AlertSignal(alert_id=alert.id, team_id=alert.team_id, dimension="location",
                                    value=f"{days} d", at=now - timedelta(days=days)))
        for days in (1, 9, 30, 34, 36):
            day = (now - timedelta(days=days)).strftime("%Y-%m-%d")
            session.add(SignalDay(team_id=alert.team_id, dimension="location", value="042", day=day,
                                  count=days))

    await purge_finished_outbox(sessions)

    async with sessions() as session:
        signals = set((await session.execute(select(col(AlertSignal.value)))).scalars())
        days_kept = sorted((await session.execute(select(col(SignalDay.count)))).scalars())
    assert signals == {"1 d", "7.5 d"}, "a window reads at most 7 days back"
    assert days_kept == [1, 9, 30, 34], "the baseline's 28 days (and a margin) stay"
