"""The systemic detector on SQLite and PostgreSQL: a burst from one location makes ONE parent (its most
specific value, the topic, naming the shared location) with its children linked; later children join it
(its card updated, no second parent); a normal rate against a 28-day baseline makes none; each alert has
at most one parent per dimension."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlmodel import col

from bot.config.snapshot import ConfigCache, ConfigSnapshot
from bot.domain import FeedbackIn
from bot.ingest.accept import ingest
from bot.systemic.detector import run_detector
from storage.db import SessionFactory, transaction
from storage.models import (
    Alert,
    AlertSignal,
    Feedback,
    Outbox,
    SignalDay,
    SystemicIssue,
    SystemicMember,
    Team,
)
from storage.queries.systemic import children_of, parents_of, systemic_for_alert
from tests.helpers import prepared_config

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
WORDS = ["rude"]
_ids = iter(range(1, 1_000_000))


async def prepare(sessions: SessionFactory, **kw: Any) -> ConfigSnapshot:
    """tests.helpers.prepared_config, whose source row has an explicit id: PostgreSQL's sequence is
    moved past it so the built-in systemic source gets the next one."""
    config = await prepared_config(sessions, **kw)
    async with transaction(sessions) as session:
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("SELECT setval(pg_get_serial_sequence('source', 'id'), "
                                       "(SELECT max(id) FROM source))"))
    return config


async def raise_at(sessions: SessionFactory, config: ConfigSnapshot, at: datetime, *,
                   location: str = "042", comment: str = "the delivery was late, again", nps: int = 2,
                   **attributes: str) -> str:
    item = FeedbackIn(external_id=f"r-{next(_ids)}", nps=nps, comment=comment,
                      attributes={"location": location, **attributes})
    result = await ingest(sessions, source_id=1, source_name="web", item=item, config=config,
                          alarming_words=WORDS, now=at)
    assert result.alert_key is not None
    return result.alert_key


async def detect(sessions: SessionFactory, config: ConfigSnapshot, at: datetime, **kw: Any) -> Any:
    return await run_detector(sessions, config=config, alarming_words=WORDS, now=at + timedelta(seconds=5),
                              **kw)


async def parents(sessions: SessionFactory) -> list[SystemicIssue]:
    async with sessions() as session:
        return list((await session.execute(select(SystemicIssue).order_by(col(SystemicIssue.id))))
                    .scalars().all())


async def burst(sessions: SessionFactory, config: ConfigSnapshot, count: int, *, start: datetime = T0,
                every: timedelta = timedelta(minutes=20), live: bool = True) -> list[str]:
    keys = []
    for n in range(count):
        at = start + n * every
        keys.append(await raise_at(sessions, config, at))
        if live:
            await detect(sessions, config, at)
    return keys


async def test_a_burst_from_one_location_makes_one_parent_with_its_children(sessions: SessionFactory) -> None:
    config = await prepare(sessions, slack_channel="C0TEAM", managers_channel="C0MGR")
    keys = await burst(sessions, config, 5)

    [topic] = await parents(sessions)  # not also location 042 and source web: one burst, one card
    assert (topic.dimension, topic.value, topic.child_count) == ("topic", "delivery late", 5)
    async with sessions() as session:
        parent = await session.get(Alert, topic.alert_id)
        assert parent is not None and parent.kind == "systemic" and parent.key == f"SYS-{topic.number}"
        assert parent.severity == "critical" and parent.claim_due_at is not None
        feedback = await session.get(Feedback, parent.feedback_id)
        assert feedback is not None and feedback.attributes == {"topic": "delivery late"}
        assert feedback.comment is not None and feedback.comment.startswith(
            "5 detractors mention *delivery late* at location 042 in the last 2 h (no history yet)")
        children = await children_of(session, alert_id=topic.alert_id)
        assert [c.key for c in children] == keys
        assert await systemic_for_alert(session, alert_id=topic.alert_id) is not None
        ids = [i for i in (await session.execute(select(col(Alert.id)).where(col(Alert.key).in_(keys))))
               .scalars() if i is not None]
        assert await parents_of(session, alert_ids=ids) == {i: [parent.key] for i in ids}
        posts = (await session.execute(select(Outbox).where(col(Outbox.kind) == "card.post").join(
            Alert, col(Alert.id) == col(Outbox.alert_id)).where(col(Alert.kind) == "systemic"))
        ).scalars().all()
        assert [(p.platform, p.destination, p.payload["audience"], p.alert_id) for p in posts] == [
            ("slack", "C0MGR", "managers", topic.alert_id)]


async def test_a_later_child_joins_the_parent_and_its_card_is_updated_not_a_second_parent(
    sessions: SessionFactory,
) -> None:
    config = await prepare(sessions, slack_channel="C0TEAM", managers_channel="C0MGR")
    await burst(sessions, config, 5)
    before = {p.id: p.child_count for p in await parents(sessions)}
    [location] = await parents(sessions)  # the burst's one parent (its topic, at location 042)
    async with transaction(sessions) as session:  # the earlier card updates went out
        for row in (await session.execute(select(Outbox))).scalars():
            row.status = "done"

    late = T0 + timedelta(minutes=110)
    key = await raise_at(sessions, config, late)
    result = await detect(sessions, config, late)

    after = await parents(sessions)
    assert set(before) == {p.id for p in after}, "no second parent"
    assert result.created == [] and result.joined >= 1
    joined = next(p for p in after if p.id == location.id)
    assert joined.child_count == 6 and joined.last_child_at == late
    async with sessions() as session:
        updates = (await session.execute(select(col(Outbox.alert_id)).where(
            col(Outbox.kind) == "card.update", col(Outbox.status) == "pending"))).scalars().all()
        child = (await session.execute(select(Alert).where(col(Alert.key) == key))).scalar_one()
        summary = (await session.execute(select(col(Feedback.comment)).join(
            Alert, col(Alert.feedback_id) == col(Feedback.id)).where(col(Alert.id) == location.alert_id))
        ).scalar_one()
    assert location.alert_id in updates, "the parent's card is updated in place"
    assert child.id in updates, "the child's card says part of SYS-n"
    assert summary is not None and summary.startswith("6 detractors")


async def test_a_whole_burst_read_in_one_batch_makes_the_same_parents(sessions: SessionFactory) -> None:
    config = await prepare(sessions, slack_channel="C0TEAM")
    await burst(sessions, config, 5, live=False)
    await detect(sessions, config, T0 + timedelta(hours=2))
    found = await parents(sessions)
    assert [(p.dimension, p.value, p.child_count) for p in found] == [("topic", "delivery late", 5)]


async def seed_baseline(sessions: SessionFactory, *, team_id: int, per_day: dict[tuple[str, str], int],
                        days: int = 28) -> None:
    async with transaction(sessions) as session:
        for offset in range(1, days + 1):
            day = (T0 - timedelta(days=offset)).strftime("%Y-%m-%d")
            for (dimension, value), count in per_day.items():
                session.add(SignalDay(team_id=team_id, dimension=dimension, value=value, day=day,
                                      count=count))


async def test_at_the_baseline_rate_there_is_no_spike(sessions: SessionFactory) -> None:
    config = await prepare(sessions, slack_channel="C0TEAM")
    # 36 a day from location 042 (3 per 2 h), twice that through the source, the topic as often
    await seed_baseline(sessions, team_id=config.default_team_id, per_day={
        ("location", "042"): 36, ("source", "web"): 72, ("topic", "delivery late"): 36,
        ("topic", "delivery"): 36, ("topic", "late"): 36})
    await burst(sessions, config, 4, every=timedelta(minutes=40))
    assert await parents(sessions) == []

    # a fourfold rate is a spike on the same baseline: of the topic and the location at once, one parent
    await burst(sessions, config, 14, start=T0 + timedelta(hours=3), every=timedelta(minutes=8))
    assert [(p.dimension, p.value) for p in await parents(sessions)] == [("topic", "delivery late")]


async def test_each_alert_has_at_most_one_parent_per_dimension(sessions: SessionFactory) -> None:
    config = await prepare(sessions, slack_channel="C0TEAM")
    await burst(sessions, config, 8, every=timedelta(minutes=10))
    # a second burst after the first parents went quiet, overlapping topics
    await burst(sessions, config, 6, start=T0 + timedelta(hours=6), every=timedelta(minutes=10))
    async with sessions() as session:
        pairs = (await session.execute(select(col(SystemicMember.alert_id), col(SystemicMember.dimension),
                                              func.count()).group_by(col(SystemicMember.alert_id),
                                                                     col(SystemicMember.dimension)))).all()
        kinds = set((await session.execute(select(col(Alert.kind)).join(
            SystemicMember, col(SystemicMember.alert_id) == col(Alert.id)))).scalars())
    assert pairs and all(n == 1 for _, _, n in pairs)
    assert kinds == {"response"}, "a parent is never a child"
    assert len({p.dimension + p.value for p in await parents(sessions)}) < len(await parents(sessions)), \
        "the quiet parents' values got new parents for the second burst"


async def test_two_detectors_at_once_read_every_alert_once(sessions: SessionFactory) -> None:
    config = await prepare(sessions, slack_channel="C0TEAM")
    await burst(sessions, config, 30, every=timedelta(minutes=1), live=False)
    now = T0 + timedelta(hours=1)
    await asyncio.gather(*(detect(sessions, config, now, batch=7) for _ in range(2)))
    async with sessions() as session:
        per_alert = (await session.execute(select(col(AlertSignal.alert_id), func.count()).where(
            col(AlertSignal.dimension) == "location").group_by(col(AlertSignal.alert_id)))).all()
        day = (await session.execute(select(col(SignalDay.count)).where(
            col(SignalDay.dimension) == "location"))).scalar_one()
    assert len(per_alert) == 30 and all(n == 1 for _, n in per_alert)
    assert day == 30
    assert [(p.dimension, p.child_count) for p in await parents(sessions)] == [("topic", 30)]


async def test_disabled_detection_records_signals_but_opens_no_parent(sessions: SessionFactory) -> None:
    await prepare(sessions, slack_channel="C0TEAM")
    async with transaction(sessions) as session:
        team = (await session.execute(select(Team))).scalars().first()
        assert team is not None
        team.systemic = {"enabled": False}
    config = await ConfigCache(sessions).get()
    await burst(sessions, config, 5)
    assert await parents(sessions) == []
    async with sessions() as session:
        signals = (await session.execute(select(func.count()).select_from(AlertSignal))).scalar_one()
    assert signals >= 5 * 3


async def test_alerts_too_recent_wait_for_the_next_tick(sessions: SessionFactory) -> None:
    config = await prepare(sessions, slack_channel="C0TEAM")
    await raise_at(sessions, config, T0)
    early = await run_detector(sessions, config=config, alarming_words=WORDS, now=T0)
    later = await run_detector(sessions, config=config, alarming_words=WORDS, now=T0 + timedelta(seconds=3))
    assert (early.alerts, later.alerts) == (0, 1)
