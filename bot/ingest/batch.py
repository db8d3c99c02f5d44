"""The ingest of a whole group-commit batch, with one INSERT per table instead of several per response.

The outcome is what `ingest_in` would give for each item in turn; only the cost differs. The common
case goes in bulk: a response seen for the first time (feedback, then alerts, then their events and
cards, one statement each). Anything else — a repeat, a later part of a known response, the second
copy of a response sent twice within one batch — goes through `ingest_in` afterwards, in arrival
order, so it sees the rows the bulk part has just written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config.snapshot import ConfigSnapshot
from bot.domain import FeedbackIn
from bot.ingest.accept import AlertPlan, IngestResult, decide_new, feedback_row, ingest_in, write_new_alerts
from storage import queries


@dataclass(frozen=True)
class IngestItem:
    source_id: int
    source_name: str
    item: FeedbackIn
    config: ConfigSnapshot
    alarming_words: list[str]
    now: datetime

    @property
    def identity(self) -> tuple[int, str]:
        return (self.source_id, self.item.external_id)


async def ingest_batch(session: AsyncSession, items: Sequence[IngestItem]) -> list[IngestResult]:
    """Ingest every item inside the caller's transaction; results in the items' order."""
    first_copies: dict[tuple[int, str], int] = {}
    for index, item in enumerate(items):
        first_copies.setdefault(item.identity, index)
    firsts = [items[index] for index in first_copies.values()]
    new_ids = await queries.insert_feedback_many(
        session, rows=[feedback_row(w.source_id, w.item, w.now) for w in firsts]
    )
    results: dict[int, IngestResult] = {}
    plans: list[AlertPlan] = []
    for index in first_copies.values():
        item = items[index]
        feedback_id = new_ids.get(item.identity)
        if feedback_id is None:  # known before this batch: `ingest_in` below decides
            continue
        results[index], plan = decide_new(feedback_id=feedback_id, item=item.item, config=item.config,
                                          alarming_words=item.alarming_words, source_name=item.source_name,
                                          now=item.now)
        if plan is not None:
            plans.append(plan)
    await write_new_alerts(session, plans)
    for index, item in enumerate(items):
        if index not in results:
            results[index] = await ingest_in(
                session, source_id=item.source_id, source_name=item.source_name, item=item.item,
                config=item.config, alarming_words=item.alarming_words, now=item.now,
            )
    return [results[index] for index in range(len(items))]
