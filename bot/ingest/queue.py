"""Group commit for ingest: concurrent webhooks share one transaction.

Each request still gets its answer only after the transaction holding its rows has committed, so
"2xx means stored" holds. What changes is the cost: one BEGIN/COMMIT (and, on SQLite, one hold of
the single write lock) per batch instead of per webhook, and one INSERT per table for the batch
(bot/ingest/batch.py). If a batch fails, its items are retried one transaction each, so one bad
item can never fail or delay the others' fate; when the database itself is unreachable, the whole batch
fails at once (each webhook is answered 503 and retried by its sender).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

import structlog

from bot.config.snapshot import ConfigSnapshot
from bot.domain import FeedbackIn
from bot.ingest.accept import IngestResult, ingest
from bot.ingest.batch import IngestItem, ingest_batch
from storage.db import SessionFactory, transaction
from storage.outage import is_database_outage

log = structlog.get_logger("hotloop.ingest")


@dataclass
class _Pending:
    work: IngestItem
    done: asyncio.Future[IngestResult]


class IngestQueue:
    def __init__(self, sessions: SessionFactory, *, max_batch: int = 64) -> None:
        self.sessions = sessions
        self.max_batch = max_batch
        self._waiting: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(
        self, *, source_id: int, source_name: str, item: FeedbackIn, config: ConfigSnapshot,
        alarming_words: list[str], now: datetime,
    ) -> IngestResult:
        done: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        work = IngestItem(source_id, source_name, item, config, alarming_words, now)
        self._waiting.append(_Pending(work, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="hotloop-ingest-writer")
        return await asyncio.shield(done)  # a client hanging up must not cancel a commit others share

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
            try:
                results = await self._commit_together(batch)
            except Exception as error:
                if is_database_outage(error):  # alone they would fail too, each after a connect timeout
                    for pending in batch:
                        pending.done.set_exception(error)
                    continue
                log.warning("ingest.batch_retry", size=len(batch))  # one item broke the batch:
                await self._commit_alone(batch)  # give each its own transaction
            else:
                for pending, result in zip(batch, results, strict=True):
                    pending.done.set_result(result)

    async def _commit_together(self, batch: list[_Pending]) -> list[IngestResult]:
        async with transaction(self.sessions) as session:
            return await ingest_batch(session, [p.work for p in batch])

    async def _commit_alone(self, batch: list[_Pending]) -> None:
        for p in batch:
            try:
                w = p.work
                result = await ingest(self.sessions, source_id=w.source_id, source_name=w.source_name,
                                      item=w.item, config=w.config, alarming_words=w.alarming_words,
                                      now=w.now)
            except Exception as error:
                p.done.set_exception(error)
            else:
                p.done.set_result(result)
