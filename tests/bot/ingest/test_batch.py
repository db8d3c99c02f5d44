"""The group commit's bulk ingest must leave exactly what ingesting each response alone leaves.

Two generic sources receive the same stream of responses: "one" through `ingest_in`, a transaction
each, "many" through `ingest_batch`, the whole stream in one transaction. Repeats, later parts,
responses known before the batch and copies sent twice within it are all in the mix.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.config.snapshot import ConfigSnapshot
from bot.domain import Answer, FeedbackIn, utcnow
from bot.ingest.accept import IngestResult, ingest_in
from bot.ingest.batch import IngestItem, ingest_batch
from storage.db import SessionFactory, transaction
from storage.models import Alert, AlertEvent, Feedback, Outbox, Source
from tests.helpers import prepared_config

WORDS = ["rude"]


def _stream(seed: int, size: int) -> list[FeedbackIn]:
    rng = random.Random(seed)
    pool = [f"r{n}" for n in range(max(2, size // 3))]  # few ids, so repeats and later parts happen
    items = []
    for _ in range(size):
        answers = [Answer(question="Staff", value=rng.choice([1, 5]), scale_min=1, scale_max=5)]
        items.append(FeedbackIn(
            external_id=rng.choice(pool),
            nps=rng.choice([None, 0, 3, 6, 8, 10]),
            contact_requested=rng.random() < 0.2,
            comment=rng.choice([None, "fine", "rude staff"]),
            answers=answers if rng.random() < 0.5 else [],
            partial=rng.random() < 0.3,
        ))
    return items


async def _sources(sessions: SessionFactory) -> ConfigSnapshot:
    config = await prepared_config(sessions, slack_channel="C0TEAM")
    async with transaction(sessions) as session:
        session.add(Source(id=2, name="one", kind="generic", secret_encrypted="x"))
        session.add(Source(id=3, name="many", kind="generic", secret_encrypted="x"))
    return config


def _work(source_id: int, item: FeedbackIn, config: ConfigSnapshot, step: int) -> IngestItem:
    name = {2: "one", 3: "many"}[source_id]
    return IngestItem(source_id, name, item, config, WORDS, utcnow().replace(microsecond=0)
                      + timedelta(seconds=step))


async def _one_by_one(sessions: SessionFactory, works: list[IngestItem]) -> list[IngestResult]:
    results = []
    for w in works:
        async with transaction(sessions) as session:
            results.append(await ingest_in(session, source_id=w.source_id, source_name=w.source_name,
                                           item=w.item, config=w.config, alarming_words=WORDS, now=w.now))
    return results


def _shape(result: IngestResult) -> tuple[bool, bool, bool, str | None]:
    return (result.alert_key is None, result.duplicate, result.changed, result.severity)


async def _state(sessions: SessionFactory, source_id: int) -> dict[str, Any]:
    """What a source's responses left behind, without ids and keys (they differ between sources)."""
    state: dict[str, Any] = {}
    async with sessions() as session:
        rows = (await session.execute(select(Feedback).where(col(Feedback.source_id) == source_id))).scalars()
        for feedback in rows:
            alert = (await session.execute(
                select(Alert).where(col(Alert.feedback_id) == feedback.id))).scalar_one_or_none()
            entry: dict[str, Any] = {"nps": feedback.nps, "comment": feedback.comment,
                                     "partial": feedback.partial, "contact": feedback.contact_requested}
            if alert is not None:
                events = (await session.execute(select(AlertEvent).where(col(AlertEvent.alert_id) == alert.id)
                                                .order_by(col(AlertEvent.id)))).scalars().all()
                outbox = (await session.execute(select(Outbox).where(col(Outbox.alert_id) == alert.id)
                                                .order_by(col(Outbox.id)))).scalars().all()
                entry["alert"] = (alert.severity, alert.status, alert.version, sorted(alert.reasons),
                                  alert.team_id, alert.routed_by_default, alert.claim_due_at is not None)
                entry["events"] = [(e.kind, e.platform, e.data) for e in events]
                entry["outbox"] = [(o.kind, o.platform, o.destination, o.status, o.payload) for o in outbox]
            state[feedback.external_id] = entry
    return state


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
async def test_bulk_ingest_leaves_what_one_by_one_leaves(sessions: SessionFactory, seed: int) -> None:
    config = await _sources(sessions)
    stream = _stream(seed, 30)
    known, batch = stream[:6], stream[6:]  # some responses exist before the batch
    for source_id in (2, 3):
        await _one_by_one(sessions, [_work(source_id, item, config, n) for n, item in enumerate(known)])

    singly = await _one_by_one(sessions, [_work(2, item, config, n) for n, item in enumerate(batch, 6)])
    async with transaction(sessions) as session:
        together = await ingest_batch(session, [_work(3, item, config, n) for n, item in enumerate(batch, 6)])

    assert [_shape(r) for r in together] == [_shape(r) for r in singly]
    one, many = await _state(sessions, 2), await _state(sessions, 3)
    assert many == one
    assert any("alert" in entry for entry in many.values())  # the stream did make alerts


async def test_bulk_ingest_keys_come_from_the_feedback_rows(sessions: SessionFactory) -> None:
    config = await _sources(sessions)
    works = [_work(3, FeedbackIn(external_id=f"k{n}", nps=2), config, n) for n in range(5)]
    works.append(_work(3, FeedbackIn(external_id="k0", nps=2), config, 9))  # a copy within the batch
    async with transaction(sessions) as session:
        results = await ingest_batch(session, works)
    async with sessions() as session:
        pairs = (await session.execute(select(Feedback.external_id, Alert.key)
                                       .join(Alert, col(Alert.feedback_id) == col(Feedback.id)))).all()
    keys = dict(pairs)
    assert [r.alert_key for r in results[:5]] == [keys[f"k{n}"] for n in range(5)]
    assert results[5].alert_key == keys["k0"] and results[5].duplicate and not results[5].changed
    assert len(set(keys.values())) == 5


async def test_one_broken_item_fails_alone_and_its_batch_mates_are_stored(sessions: SessionFactory) -> None:
    import asyncio
    import dataclasses

    from structlog.testing import capture_logs

    from bot.ingest.queue import IngestQueue

    config = await _sources(sessions)
    broken = dataclasses.replace(config, default_team_id=999_999)  # no such team: routing raises
    queue = IngestQueue(sessions)

    async def send(external_id: str, snapshot: ConfigSnapshot) -> IngestResult:
        item = FeedbackIn(external_id=external_id, nps=2)
        return await queue.submit(source_id=3, source_name="many", item=item, config=snapshot,
                                  alarming_words=WORDS, now=utcnow())

    with capture_logs() as logs:
        results = await asyncio.gather(send("a", config), send("bad", broken), send("b", config),
                                       return_exceptions=True)
    assert any(entry["event"] == "ingest.batch_retry" and entry["size"] == 3 for entry in logs)
    assert isinstance(results[1], KeyError)
    good = [r for r in results if isinstance(r, IngestResult)]
    assert len(good) == 2 and all(r.alert_key for r in good)
    async with sessions() as session:
        query = select(Feedback.external_id).where(col(Feedback.source_id) == 3)
        stored = sorted(row[0] for row in (await session.execute(query)).all())
    assert stored == ["a", "b"]  # the broken one wrote nothing
