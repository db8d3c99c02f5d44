"""What a parent takes after its spike (SQLite and PostgreSQL): the ordinary alerts of its value that come
once the window is no longer a spike stay out of it, and a common topic that a burst pushes over its
threshold does not open a parent of its ordinary alerts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col

from storage.db import SessionFactory
from storage.models import Alert
from storage.queries.systemic import parents_of
from tests.bot.systemic.test_detector import T0, burst, detect, parents, prepare, raise_at, seed_baseline

BURST_COMMENT = "the delivery was late, again"


async def alert_ids(sessions: SessionFactory, keys: list[str]) -> list[int]:
    async with sessions() as session:
        found = (await session.execute(select(col(Alert.id)).where(col(Alert.key).in_(keys)))).scalars()
        return [alert_id for alert_id in found if alert_id is not None]


async def test_ordinary_alerts_after_the_spike_do_not_join_its_parent(sessions: SessionFactory) -> None:
    config = await prepare(sessions, slack_channel="C0TEAM")
    # 3 per 2 h from location 042 and about late deliveries: 13 in a window is a spike
    await seed_baseline(sessions, team_id=config.default_team_id, per_day={
        ("location", "042"): 36, ("source", "web"): 72, ("topic", "delivery late"): 36,
        ("topic", "delivery"): 36, ("topic", "late"): 36})
    start = T0 + timedelta(hours=3)
    spike = await burst(sessions, config, 14, start=start, every=timedelta(minutes=8))
    before = {p.id: p.child_count for p in await parents(sessions)}
    assert [p.dimension for p in await parents(sessions)] == ["topic"], "one burst, one parent"

    # the baseline rate again, each alert within 2 h of the last child (the old rule kept them all)
    tail = []
    for n in range(5):
        at = start + timedelta(minutes=8 * 13 + 70 + 40 * n)
        tail.append(await raise_at(sessions, config, at))
        await detect(sessions, config, at)

    after = await parents(sessions)
    assert {p.id: p.child_count for p in after} == before, "no child joined after the spike"
    async with sessions() as session:
        linked = await parents_of(session, alert_ids=await alert_ids(sessions, tail))
        assert linked == {}
        assert len(await parents_of(session, alert_ids=await alert_ids(sessions, spike))) == 14


async def test_a_burst_does_not_open_a_parent_of_a_common_topics_ordinary_alerts(
    sessions: SessionFactory,
) -> None:
    config = await prepare(sessions, slack_channel="C0TEAM")
    # "delivery" is common (20 per 2 h, 43 needed); "quick delivery" is the ordinary complaint
    await seed_baseline(sessions, team_id=config.default_team_id, per_day={
        ("source", "web"): 600, ("topic", "delivery"): 240, ("topic", "quick"): 240,
        ("topic", "delivery quick"): 240})
    start = T0 + timedelta(hours=3)
    ordinary = [await raise_at(sessions, config, start + timedelta(minutes=5 * n), location=f"{100 + n}",
                               comment="quick delivery") for n in range(20)]
    spike = [await raise_at(sessions, config, start + timedelta(minutes=100 + n), comment=BURST_COMMENT)
             for n in range(30)]
    # 19 ordinary + 24 burst alerts make "delivery" 43 in a window; the burst is in "delivery late"
    await detect(sessions, config, start + timedelta(minutes=130))

    found = await parents(sessions)
    assert [(p.dimension, p.value, p.child_count) for p in found] == [("topic", "delivery late", 30)]
    async with sessions() as session:
        assert await parents_of(session, alert_ids=await alert_ids(sessions, ordinary)) == {}
        linked = await parents_of(session, alert_ids=await alert_ids(sessions, spike))
    assert len(linked) == 30 and all(len(keys) == 1 for keys in linked.values())
