"""The issue 14 figures on known data, SQLite and PostgreSQL: time to first contact (median, p90),
acknowledgement coverage of contact requests within 15 minutes, follow-up answer rate, confirmed
recovery rate, reopened by the customer; and `as_dict` (what `hotloop stats --json` prints) carries them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from bot.domain import utcnow
from bot.metrics import customer_loop_lines, loop_figures
from storage.db import SessionFactory, transaction
from storage.models import Alert, AlertEvent, FollowUp
from tests.helpers import prepared_config, raise_alert

MIN = timedelta(minutes=1)


async def set_alert(sessions: SessionFactory, key: str, **values: datetime | None) -> int:
    async with transaction(sessions) as session:
        await session.execute(update(Alert).where(Alert.key == key).values(**values))  # type: ignore[arg-type]
        alert_id = (await session.execute(Alert.__table__.select().where(Alert.key == key))).first().id  # type: ignore[attr-defined]
    return int(alert_id)


async def follow_up(sessions: SessionFactory, alert_id: int, at: datetime, *, answered: bool,
                    resolved: bool | None = None, score: int | None = None) -> None:
    async with transaction(sessions) as session:
        session.add(FollowUp(alert_id=alert_id, nonce=f"n{alert_id}", address_hash="0" * 64, language="en",
                             created_at=at, expires_at=at + timedelta(days=30), sent_at=at,
                             answered_at=at + 60 * MIN if answered else None, resolved=resolved,
                             score=score))


async def test_first_contact_acknowledgement_and_follow_up_figures(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    now = utcnow()
    start = now - timedelta(hours=5)
    asked = {"contact_requested": True, "customer": {"email": "dana@example.com"}}
    keys = [await raise_alert(sessions, config, external_id=f"r-{i}", **(asked if i < 3 else {}))
            for i in range(4)]
    a1 = await set_alert(sessions, keys[0], created_at=start, acknowledged_at=start + 10 * MIN,
                         first_contact_at=start + 20 * MIN)
    a2 = await set_alert(sessions, keys[1], created_at=start, first_contact_at=start + 120 * MIN)
    a3 = await set_alert(sessions, keys[2], created_at=start, acknowledged_at=start + 16 * MIN)  # too late
    await set_alert(sessions, keys[3], created_at=start, first_contact_at=start + 5 * MIN)  # not a request
    await follow_up(sessions, a1, start + 3 * 60 * MIN, answered=True, resolved=True)
    await follow_up(sessions, a2, start + 3 * 60 * MIN, answered=True, resolved=False)
    await follow_up(sessions, a3, start + 3 * 60 * MIN, answered=False)
    # "yes" with a score of 4 reopened its alert: answered, not a confirmed recovery
    a4 = await set_alert(sessions, keys[3], created_at=start)
    await follow_up(sessions, a4, start + 3 * 60 * MIN, answered=True, resolved=True, score=4)
    async with transaction(sessions) as session:
        session.add(AlertEvent(alert_id=a2, kind="reopened_by_customer", actor_id="hotloop",
                               actor_name="hotloop", platform="hotloop", at=now, data={}))

    total, support = await loop_figures(sessions, now=now, window=timedelta(days=7))
    assert support.team == "support"
    for row in (total, support):
        figures = row.as_dict()
        assert figures["first_contact_median_seconds"] == 1200.0
        assert figures["first_contact_p90_seconds"] == pytest.approx(6000.0)  # of 300, 1200, 7200
        assert figures["acknowledged_rate"] == pytest.approx(1 / 3)  # a1 only: a2 late, a3 16 min
        assert figures["follow_up_answer_rate"] == pytest.approx(3 / 4)
        assert figures["confirmed_recovery_rate"] == pytest.approx(1 / 3)
        assert figures["reopened_by_customer"] == 1
        assert figures["targets"] == {"response_rate": 1.0, "first_contact_seconds": 3600.0}
    lines = dict(customer_loop_lines(support))
    assert lines["First contact"] == "median 20 min, p90 1.7 h (target within 1 h)"
    assert lines["Acknowledged within 15 min"] == "33 % of 3 contact requests"
    assert lines["Confirmed recovered"] == "33 % of 3 answers"

    (empty,) = await loop_figures(sessions, now=now, window=timedelta(hours=1))
    assert empty.as_dict()["first_contact_median_seconds"] is None and empty.acknowledged_rate is None
