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
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config_snapshot import ConfigSnapshot
from bot.domain import FeedbackIn
from bot.ingest import AlertPlan, IngestResult, feedback_values, ingest_in, plan_alert
from bot.outbox import card_post_values
from bot.rules import evaluate
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
    new_ids = await queries.insert_feedback_many(
        session, rows=[_feedback_row(items[index]) for index in first_copies.values()]
    )
    results: dict[int, IngestResult] = {}
    plans: list[tuple[IngestItem, AlertPlan]] = []
    for index in first_copies.values():
        item = items[index]
        feedback_id = new_ids.get(item.identity)
        if feedback_id is None:  # known before this batch: `ingest_in` below decides
            continue
        decision = evaluate(item.item, rules=item.config.rules, alarming_words=item.alarming_words,
                            source=item.source_name)
        if decision.severity is None:
            results[index] = IngestResult(None, duplicate=False)
            continue
        plan = plan_alert(feedback_id=feedback_id, item=item.item, decision=decision,
                          severity=decision.severity, config=item.config, source_name=item.source_name,
                          now=item.now)
        plans.append((item, plan))
        key = str(plan.values["key"])
        results[index] = IngestResult(key, duplicate=False, severity=decision.severity.value)
    await _write_alerts(session, plans)
    for index, item in enumerate(items):
        if index not in results:
            results[index] = await ingest_in(
                session, source_id=item.source_id, source_name=item.source_name, item=item.item,
                config=item.config, alarming_words=item.alarming_words, now=item.now,
            )
    return [results[index] for index in range(len(items))]


def _feedback_row(item: IngestItem) -> dict[str, Any]:
    return {"source_id": item.source_id, "external_id": item.item.external_id, "received_at": item.now,
            **feedback_values(item.item)}


async def _write_alerts(session: AsyncSession, plans: list[tuple[IngestItem, AlertPlan]]) -> None:
    alert_ids = await queries.insert_alerts_many(session, rows=[plan.values for _, plan in plans])
    events: list[dict[str, Any]] = []
    cards: list[dict[str, Any]] = []
    for item, plan in plans:
        alert_id = alert_ids[plan.values["feedback_id"]]
        events.append({"alert_id": alert_id, "kind": "created", "actor_id": None, "actor_name": None,
                       "platform": "hotloop", "at": item.now, "data": plan.event})
        cards += card_post_values(alert_id=alert_id, places=plan.places, audience="team", now=item.now)
    await queries.insert_events_many(session, rows=events)
    await queries.insert_outbox_many(session, rows=cards)
